package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
)

// The attack: a config naming pgsecrets' own settings, rendered with the
// environment fallback on, to copy the root keys and the database URL into
// the output. They are never taken from the environment.
func TestRenderEnvFallbackNeverCopiesSettingsIntoTheOutput(t *testing.T) {
	s := newSession(t)
	keys, err := os.ReadFile(s.keysFile)
	if err != nil {
		t.Fatal(err)
	}
	const canaryURL = "postgres://app:canary-db-password-71d3@db.example/app"
	t.Setenv("PGSECRETS_ROOT_KEYS", string(keys))
	t.Setenv("PGSECRETS_DATABASE_URL", s.dbURL)
	t.Setenv("DATABASE_URL", canaryURL)
	t.Setenv("PGPASSWORD", "canary-pgpassword-0b9e")
	t.Setenv("TF_VAR_token", "canary-tf-var-5a2c")
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	doc := `{"keys": {"$secretRef": {"name": "PGSECRETS_ROOT_KEYS"}}, "db": {"$secretRef": {"name": "PGSECRETS_DATABASE_URL"}},
	         "url": {"$secretRef": {"name": "DATABASE_URL"}}, "pw": {"$secretRef": {"name": "PGPASSWORD"}}, "tf": {"$secretRef": {"name": "TF_VAR_token"}}}`
	if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rendered.json")

	r := s.run("", "render", "--project", "app", "--config", config, "--env-fallback", "--out", out)
	wantFailure(t, r, 1,
		"5 referenced secrets not found in the database or the environment and without a default: ",
		`"DATABASE_URL" at $.url (it may not come from the environment: DATABASE_URL is a database URL pgsecrets may connect with, password included)`,
		`"PGPASSWORD" at $.pw (it may not come from the environment: names starting with PG are PostgreSQL connection settings (libpq), such as PGPASSWORD)`,
		`"PGSECRETS_DATABASE_URL" at $.db (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings`,
		`"PGSECRETS_ROOT_KEYS" at $.keys (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings`,
		`"TF_VAR_token" at $.tf (it may not come from the environment: names starting with TF_ are Terraform's settings`,
		`; create them or give the references a "default"`)
	for _, leaked := range []string{string(keys), s.dbURL, "canary-"} {
		if strings.Contains(r.stdout+r.stderr, leaked) {
			t.Errorf("render shows a setting's value (%.20s...):\n%s", leaked, r)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed render wrote %s (stat: %v)", out, err)
	}

	// From the database, they resolve as any secret would.
	s.mustRun("from-database", "secret", "add", "--project", "app", "--name", "DATABASE_URL")
	r = s.mustRun(`{"url":{"$secretRef":{"name":"DATABASE_URL"}},"pw":{"$secretRef":{"name":"PGPASSWORD","default":"none"}}}`,
		"render", "--project", "app", "--config", "-", "--env-fallback")
	if r.stdout != `{"url":"from-database","pw":"none"}`+"\n" || r.stderr != "DATABASE_URL: database\nPGPASSWORD: default\n" {
		t.Errorf("render:\n%s", r)
	}
}

func TestRenderEnvAllowLetsOnlyListedNamesComeFromTheEnvironment(t *testing.T) {
	s := newSession(t)
	t.Setenv("APP_TOKEN", "app-from-env")
	t.Setenv("STRIPE_KEY", "stripe-from-env")
	t.Setenv("OTHER_TOKEN", "other-from-env")
	doc := `{"a":{"$secretRef":{"name":"APP_TOKEN"}},"s":{"$secretRef":{"name":"STRIPE_KEY"}},"o":{"$secretRef":{"name":"OTHER_TOKEN","default":"d"}}}`

	r := s.mustRun(doc, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*,STRIPE_KEY")
	if r.stdout != `{"a":"app-from-env","s":"stripe-from-env","o":"d"}`+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if r.stderr != "APP_TOKEN: environment\nOTHER_TOKEN: default\nSTRIPE_KEY: environment\n" {
		t.Errorf("stderr %q", r.stderr)
	}

	r = s.run(`{"o":{"$secretRef":{"name":"OTHER_TOKEN"}}}`, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*", "--env-allow", "STRIPE_KEY")
	wantFailure(t, r, 1, `"OTHER_TOKEN" at $.o (it may not come from the environment: it matches no entry of the environment allow-list (APP_*, STRIPE_KEY))`)
	if strings.Contains(r.stderr, "other-from-env") {
		t.Errorf("error shows the variable's value:\n%s", r)
	}
}

func TestRenderEnvAllowMistakesAreUsageErrors(t *testing.T) {
	s := newSession(t)
	doc := `{"a":1}`
	r := s.run(doc, "render", "--project", "app", "--config", "-", "--env-allow", "APP_*")
	wantFailure(t, r, 2, "--env-allow limits the environment fallback; add --env-fallback to turn it on")
	r = s.run(doc, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*,A*B")
	wantFailure(t, r, 2, `--env-allow: environment allow-list entry "A*B" has a * before its end; only a trailing * is supported, as a prefix (APP_*)`)
	r = s.run(doc, "render", "--project", "app", "--config", "-", "--env-fallback", "--env-allow", "APP_*,")
	wantFailure(t, r, 2, "--env-allow: environment allow-list: an entry is empty")
}

func TestRenderRefusesDeeplyNestedConfig(t *testing.T) {
	s := newSession(t)
	r := s.run(strings.Repeat("[", 40000), "render", "--project", "app", "--config", "-")
	wantFailure(t, r, 1, "parse -: config nests objects and arrays deeper than the limit of 256 levels, at byte 256 under $[0][0]")
}

// nastyDotenvValues are values that would run code, or define other
// variables, in a .env file quoted the wrong way. pythonExact says whether
// python-dotenv can read the value exactly (see dotenv.Quote); shells and
// import-env always must. literal values are given in the config instead
// of stored as secrets (secret add drops a trailing newline, and refuses
// an empty value).
var nastyDotenvValues = []struct {
	name, value          string
	pythonExact, literal bool
}{
	{"ATTACK", "a'\nEVIL=1\n$(touch pwned-attack)`touch pwned-attack-bt`", false, false},
	{"DOLLAR", "$HOME $(touch pwned-dollar) `touch pwned-dollar-bt` $((1+1))", true, false},
	{"DOLLAR_BRACE", "${HOME} ${HOME:-x}", false, false},
	{"QUOTE_AND_DOLLAR", "it's $(touch pwned-quote-dollar)", false, false},
	{"QUOTES", `it's a "quote"`, true, false},
	{"ONE_SINGLE_QUOTE", `'`, true, false},
	{"ONE_DOUBLE_QUOTE", `"`, true, false},
	{"BACKSLASHES", `back\slash \n \\ \' \" \$ two`, false, false},
	{"BACKSLASH_QUOTE", `C:\dir\it's "x"`, true, false},
	{"TRAILING_BACKSLASH", `ends with backslash\`, false, false},
	{"HASH", `# not a comment`, true, false},
	{"SPACE_HASH", `a # b`, true, false},
	{"SPACES", "  leading and trailing  ", true, false},
	{"UNICODE", "ünïcödé ✓ 🎉 日本 \u200b", true, false},
	{"PEM", "-----BEGIN KEY-----\nabc+/=\n-----END KEY-----", true, false},
	{"CRLF", "windows\r\nline end\rcr", false, false},
	{"TAB", "tab\there", true, false},
	{"OTHER_LINE_BREAKS", "ff\fvt\vnel\u0085ls\u2028ps\u2029", true, false},
	{"EXPORT_LINE", "x\nexport EVIL2=2\n; touch pwned-export", true, false},
	{"EMPTY", "", true, true},
	{"NEWLINE_END", "line\n", true, true},
	{"ESCAPE", "\x1b[31mred", true, true},
}

// requireReader fails the test, never skips it, when a reader the rendered
// file must be checked against is missing.
func requireReader(t *testing.T, what string, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s is needed to check rendered .env files but cannot run (%v: %s): apt-get install -y dash busybox python3-dotenv (.ci/run installs them)", what, err, out)
	}
}

// The attack: a secret's value that, rendered into a .env file, runs a
// command when the file is sourced, or adds a variable. Every reader reads
// every value exactly and runs nothing: bash, dash and busybox sh sourcing
// the file, python-dotenv (exactly, or by skipping the line, with a
// warning from render), and import-env.
func TestRenderDotenvIsInertAndExactForEveryReader(t *testing.T) {
	shells := map[string][]string{"bash": {"bash"}, "dash": {"dash"}, "busybox sh": {"busybox", "sh"}}
	for what, argv := range shells {
		requireReader(t, what, argv[0], append(argv[1:], "-c", "exit 0")...)
	}
	requireReader(t, "python-dotenv", "python3", "-c", "import dotenv")

	s := newSession(t)
	config := map[string]any{}
	var order []string
	var inexact []string
	for _, v := range nastyDotenvValues {
		order = append(order, v.name)
		if !v.pythonExact {
			inexact = append(inexact, v.name)
		}
		if v.literal {
			config[v.name] = v.value
			continue
		}
		s.mustRun(v.value, "secret", "add", "--project", "app", "--name", v.name)
		config[v.name] = map[string]any{"$secretRef": map[string]string{"name": v.name}}
	}
	var doc strings.Builder
	doc.WriteString("{")
	for i, name := range order {
		b, _ := json.Marshal(config[name])
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, "%q:%s", name, b)
	}
	doc.WriteString("}")
	dir := t.TempDir()
	file := filepath.Join(dir, "app.env")

	r := s.mustRun(doc.String(), "render", "--project", "app", "--config", "-", "--format", "dotenv", "--out", file)
	warning := "Warning: python-dotenv cannot read the value of " + strings.Join(inexact, ", ") + " exactly"
	if !strings.Contains(r.stderr, warning) || strings.Count(r.stderr, "Warning:") != 1 || strings.Contains(r.stderr, "touch") {
		t.Errorf("render's stderr lacks %q, or shows a value:\n%s", warning, r.stderr)
	}

	check := func(reader string, got map[string]string, exact func(string) bool) {
		t.Helper()
		for _, v := range nastyDotenvValues {
			g, ok := got[v.name]
			switch {
			case exact(v.name) && (!ok || g != v.value):
				t.Errorf("%s read %s as %q (set: %v), want %q", reader, v.name, g, ok, v.value)
			case !exact(v.name) && ok:
				t.Errorf("%s read %s as %q, want it skipped", reader, v.name, g)
			}
		}
		for _, evil := range []string{"EVIL", "EVIL2"} {
			if _, ok := got[evil]; ok {
				t.Errorf("%s read a variable %s out of a value", reader, evil)
			}
		}
	}
	always := func(string) bool { return true }

	for what, argv := range shells {
		cmd := exec.Command(argv[0], append(argv[1:], "-c", `set -a; . "$1"; exec env -0`, "sh", file)...)
		cmd.Dir, cmd.Env = dir, []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent-home"}
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s could not source the file: %v", what, err)
			continue
		}
		got := map[string]string{}
		for _, kv := range strings.Split(string(out), "\x00") {
			if name, value, ok := strings.Cut(kv, "="); ok {
				got[name] = value
			}
		}
		check(what, got, always)
	}

	py := exec.Command("python3", "-c", "import json, sys\nfrom dotenv import dotenv_values\njson.dump(dotenv_values(sys.argv[1]), sys.stdout)", file)
	py.Dir, py.Env = dir, []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent-home"}
	out, err := py.Output()
	if err != nil {
		t.Fatalf("python-dotenv could not read the file: %v", err)
	}
	var pyValues map[string]*string
	if err := json.Unmarshal(out, &pyValues); err != nil {
		t.Fatalf("python-dotenv output %s: %v", out, err)
	}
	got := map[string]string{}
	for name, v := range pyValues {
		if v == nil {
			t.Errorf("python-dotenv read a variable %q without a value: a line of a value became a statement", name)
			continue
		}
		got[name] = *v
	}
	if len(got) != len(nastyDotenvValues)-len(inexact) {
		t.Errorf("python-dotenv read %d variables, want %d", len(got), len(nastyDotenvValues)-len(inexact))
	}
	byName := map[string]bool{}
	for _, v := range nastyDotenvValues {
		byName[v.name] = v.pythonExact
	}
	check("python-dotenv", got, func(name string) bool { return byName[name] })

	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := dotenv.Parse(string(content))
	if err != nil {
		t.Fatalf("import-env cannot read the rendered file: %v", err)
	}
	got = map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Value
	}
	check("import-env", got, always)

	if pwned, _ := filepath.Glob(filepath.Join(dir, "pwned*")); len(pwned) > 0 {
		t.Errorf("sourcing the rendered file ran commands: %v", pwned)
	}
}

// Only shell identifiers become names: a key that is not one could make a
// shell run the line as a command.
func TestRenderDotenvRefusesKeysThatAreNotShellIdentifiers(t *testing.T) {
	s := newSession(t)
	for _, key := range []string{"touch pwned;A", "$(touch pwned)", "A B", "A\nB", "1A", "A-B", "Ä"} {
		doc, _ := json.Marshal(map[string]string{key: "v"})
		r := s.run(string(doc), "render", "--project", "app", "--config", "-", "--format", "dotenv")
		wantFailure(t, r, 1, "is not an environment variable name", "nothing was written")
		if r.stdout != "" {
			t.Errorf("key %q: render wrote %q", key, r.stdout)
		}
	}
	r := s.run(`{"A":"x\u0000y"}`, "render", "--project", "app", "--config", "-", "--format", "dotenv")
	wantFailure(t, r, 1, "the value of A holds a NUL byte, which no environment variable can; use --format json", "nothing was written")
}
