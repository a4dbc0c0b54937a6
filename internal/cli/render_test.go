package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
)

func TestRenderResolvesFromDatabaseEnvironmentAndDefault(t *testing.T) {
	s := newSession(t)
	s.mustRun("sk-proj-fromdb", "secret", "add", "--project", "app", "--name", "OPENAI_API_KEY")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-fromenv")
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	doc := `{"openai": {"$secretRef": {"name": "OPENAI_API_KEY"}}, "slack": [{"$secretRef": {"name": "SLACK_BOT_TOKEN"}}], "region": {"$secretRef": {"name": "REGION", "default": "eu"}}, "n": 1.50}`
	if err := os.WriteFile(config, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rendered.json")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := s.mustRun("", "render", "--project", "app", "--config", config, "--env-fallback", "--out", out)
	if r.stdout != "" {
		t.Errorf("render --out wrote to stdout: %q", r.stdout)
	}
	wantErr := "OPENAI_API_KEY: database\nREGION: default\nSLACK_BOT_TOKEN: environment\nRendered 3 reference(s) into " + out + "\n"
	if r.stderr != wantErr {
		t.Errorf("stderr %q, want %q", r.stderr, wantErr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"openai":"sk-proj-fromdb","slack":["xoxb-fromenv"],"region":"eu","n":1.50}` + "\n"; string(got) != want {
		t.Errorf("rendered %s, want %s", got, want)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("rendered file mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary file left behind: %v", entries)
	}

	// Without --env-fallback the environment is not read, and nothing is
	// written.
	r = s.run("", "render", "--project", "app", "--config", config, "--out", out)
	wantFailure(t, r, 1, `"SLACK_BOT_TOKEN" at $.slack[0]`, "enable the environment fallback")
	if got2, _ := os.ReadFile(out); string(got2) != string(got) {
		t.Error("a failed render changed the output file")
	}
}

func TestRenderToStdoutAndMalformedConfig(t *testing.T) {
	s := newSession(t)
	s.mustRun("sk-ant-x1", "secret", "add", "--project", "app", "--name", "ANTHROPIC_API_KEY")
	r := s.mustRun(`{"k":{"$secretRef":{"name":"ANTHROPIC_API_KEY"}}}`, "render", "--project", "app", "--config", "-")
	if r.stdout != `{"k":"sk-ant-x1"}`+"\n" || r.stderr != "ANTHROPIC_API_KEY: database\n" {
		t.Errorf("render to stdout:\n%s", r)
	}
	r = s.run(`{"k":{"$secretRef":{"nam":"X"}}}`, "render", "--project", "app", "--config", "-")
	wantFailure(t, r, 1, `unknown key "nam"`, "$.k")
	if !strings.HasPrefix(r.stderr, "Error: parse -:") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// trickyValues are values a .env file easily gets wrong.
var trickyValues = []string{
	`plain`,
	`it's a "quote"`,
	`back\slash \n not a newline \\ two`,
	"two\nlines",
	"windows\r\nline end",
	"tab\there",
	`$HOME ${PATH} $(id) ` + "`id`",
	`# not a comment`,
	`a # b`,
	"  leading and trailing spaces  ",
	`=equals=`,
	"ünïcödé ✓ 🎉 \u200bzero-width",
	`'single quoted'`,
	`"double quoted"`,
	`ends with backslash\`,
	"\x1b[31mescape",
}

func TestRenderDotenvRoundTripsThroughImportEnv(t *testing.T) {
	s := newSession(t)
	var config strings.Builder
	config.WriteString("{")
	for i, v := range trickyValues {
		name := fmt.Sprintf("V%d", i)
		s.mustRun(v, "secret", "add", "--project", "src", "--name", name)
		fmt.Fprintf(&config, `"%s": {"$secretRef": {"name": "%s"}}, `, name, name)
	}
	config.WriteString(`"PORT": 8080, "DEBUG": false, "REGION": "eu-west-1", "FROM_DEFAULT": {"$secretRef": {"name": "MISSING", "default": "x y"}}}`)
	dir := t.TempDir()
	out := filepath.Join(dir, "app.env")

	r := s.mustRun(config.String(), "render", "--project", "src", "--config", "-", "--format", "dotenv", "--out", out)
	if r.stdout != "" || !strings.HasSuffix(r.stderr, "Rendered 17 reference(s) into "+out+"\n") || strings.Contains(r.stderr, "zero-width") {
		t.Errorf("render --format dotenv --out:\n%s", r)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("rendered .env: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	content, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(content), "V0='plain'\nV1=\"it's a \\\"quote\\\"\"\n") ||
		!strings.HasSuffix(string(content), "PORT='8080'\nDEBUG='false'\nREGION='eu-west-1'\nFROM_DEFAULT='x y'\n") {
		t.Errorf("rendered .env:\n%s", content)
	}

	s.mustRun("", "import-env", "--project", "dst", "--file", out)
	for i, v := range trickyValues {
		got := s.mustRun("", "secret", "get", "--project", "dst", "--name", fmt.Sprintf("V%d", i)).stdout
		if got != v {
			t.Errorf("V%d came back from import-env as %q, want %q", i, got, v)
		}
	}

	// To stdout it is the same text.
	r = s.mustRun(config.String(), "render", "--project", "src", "--config", "-", "--format", "dotenv")
	if r.stdout != string(content) {
		t.Errorf("render --format dotenv to stdout differs from the file:\n%s", r.stdout)
	}
}

func TestRenderDotenvNeedsOneObjectOfVariables(t *testing.T) {
	s := newSession(t)
	s.mustRun("sk-canary-render", "secret", "add", "--project", "app", "--name", "TOKEN")
	for config, want := range map[string]string{
		`[{"$secretRef": {"name": "TOKEN"}}]`:                                     "the config must be one JSON object of NAME: value pairs",
		`{"$secretRef": {"name": "TOKEN"}}`:                                       "the config must be one JSON object of NAME: value pairs",
		`{"stripe.key": {"$secretRef": {"name": "TOKEN"}}, "9LIVES": 1, "OK": 2}`: "key(s) stripe.key, 9LIVES are not environment variable names",
		`{"DB": {"host": "x"}, "LIST": [1], "NOTHING": null}`:                     "the value of DB, LIST, NOTHING is an object, an array or null",
	} {
		r := s.run(config, "render", "--project", "app", "--config", "-", "--format", "dotenv")
		wantFailure(t, r, 1, "render - as dotenv: "+want, "nothing was written")
		if r.stdout != "" || strings.Contains(r.stderr, "canary") {
			t.Errorf("a failed render wrote:\n%s", r)
		}
	}
	wantFailure(t, s.run("{}", "render", "--project", "app", "--config", "-", "--format", "toml"), 2, `--format "toml" is not supported: use json, dotenv or yaml`)
}

func TestRenderOutputIsTheFormatAndOutputFileIsDeprecated(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "TOKEN")
	const config = `{"t": {"$secretRef": {"name": "TOKEN"}}}`

	// --output json is the json format, the default; text changes nothing.
	for _, format := range []string{"json", "text"} {
		r := s.mustRun(config, "render", "--project", "app", "--config", "-", "--output", format)
		if r.stdout != `{"t":"v1"}`+"\n" || r.stderr != "TOKEN: database\n" {
			t.Errorf("render --output %s:\n%s", format, r)
		}
	}
	wantFailure(t, s.run(config, "render", "--project", "app", "--config", "-", "--output", "json", "--format", "dotenv"), 2,
		"--output json is the json format and --format dotenv is not: pass one of the two")

	// A file name still works, with a notice.
	dir := t.TempDir()
	out := filepath.Join(dir, "config.json")
	r := s.mustRun(config, "render", "--project", "app", "--config", "-", "--output", out)
	want := "Warning: --output FILE is deprecated for `pgsecrets render`: use --out " + out + " (--output is the output format, text or json, in every command)\n" +
		"TOKEN: database\nRendered 1 reference(s) into " + out + "\n"
	if r.stdout != "" || r.stderr != want {
		t.Errorf("render --output FILE:\n%s\nwant stderr:\n%s", r, want)
	}
	if got, _ := os.ReadFile(out); string(got) != `{"t":"v1"}`+"\n" {
		t.Errorf("render --output FILE wrote %q", got)
	}

	// A bare word is more likely a mistyped format than a file.
	wantFailure(t, s.run(config, "render", "--project", "app", "--config", "-", "--output", "yaml"), 2,
		`--output "yaml" is not supported: use text or json (to write to a file, use --out FILE)`)
	wantFailure(t, s.run(config, "render", "--project", "app", "--config", "-", "--output", out, "--out", out), 2,
		"--out and --output both name a file")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left behind: %v", entries)
	}
}

// Without --config, render writes every secret of the project, as a
// Doppler, Infisical or sops user expects: one command, sorted by name,
// mode 0600, one audited read of every name, and each format read back
// exactly.
func TestRenderWritesEveryProjectSecretAsDotenvJSONOrYAML(t *testing.T) {
	s := newSession(t)
	values := map[string]string{
		"B_TOKEN":        "it's \"quoted\" $HOME `id`\nline two",
		"A_URL":          "https://example.com/?a=1&b=<2>",
		"C_NON_ASCII":    "grüße ✓ \u2028 tab\t",
		"OPENAI_API_KEY": "sk-proj-project-render",
	}
	for name, v := range values {
		s.mustRun(v, "secret", "add", "--project", "app", "--name", name)
	}
	events := s.auditEventCount()
	dir := t.TempDir()
	for _, format := range []string{"dotenv", "json", "yaml"} {
		out := filepath.Join(dir, "app."+format)
		r := s.mustRun("", "render", "--project", "app", "--format", format, "--out", out)
		if want := "Wrote 4 secret(s) of project app into " + out + "\n"; !strings.HasSuffix(r.stderr, want) || r.stdout != "" {
			t.Errorf("render --format %s:\n%s", format, r)
		}
		// B_TOKEN holds $ and both quotes: exact for shells and import-env,
		// not for python-dotenv, which render says.
		if warned := strings.Contains(r.stderr, "python-dotenv cannot read the value of B_TOKEN exactly"); warned != (format == "dotenv") {
			t.Errorf("render --format %s: python-dotenv warning %v:\n%s", format, warned, r)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, want mode 0600", out, err)
		}
		content, _ := os.ReadFile(out)
		got := map[string]string{}
		var order []string
		switch format {
		case "dotenv":
			vars, err := dotenv.Parse(string(content))
			if err != nil {
				t.Fatalf("import-env's parser on the render: %v", err)
			}
			for _, v := range vars {
				got[v.Name], order = v.Value, append(order, v.Name)
			}
		case "json":
			if err := json.Unmarshal(content, &got); err != nil {
				t.Fatalf("render --format json: %v\n%s", err, content)
			}
		case "yaml":
			// Each line is "NAME": "value" with JSON's escapes, which is how
			// YAML reads a double-quoted scalar: read it as JSON here, and
			// with a YAML parser in the import tests.
			for _, line := range strings.Split(strings.TrimSuffix(string(content), "\n"), "\n") {
				var kv map[string]string
				if err := json.Unmarshal([]byte("{"+line+"}"), &kv); err != nil || len(kv) != 1 {
					t.Fatalf("YAML line %q is not one quoted pair: %v", line, err)
				}
				for k, v := range kv {
					got[k], order = v, append(order, k)
				}
			}
		}
		if !maps.Equal(got, values) {
			t.Errorf("render --format %s read back %q, want %q", format, got, values)
		}
		if order != nil && !slices.IsSorted(order) {
			t.Errorf("render --format %s is not sorted by name: %v", format, order)
		}
	}
	if n := s.auditEventCount(); n != events+3 {
		t.Errorf("%d audit events for 3 renders, want one read each", n-events)
	}
	r := s.mustRun("", "audit", "export", "--format", "jsonl", "--project", "app")
	last := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if ev := last[len(last)-1]; !strings.Contains(ev, `"action":"secret.read"`) || !strings.Contains(ev, "B_TOKEN") || strings.Contains(ev, "sk-proj-project-render") {
		t.Errorf("the render's audit event: %s", ev)
	}

	// A project whose names are not variable names cannot be a .env file:
	// refused by name, and nothing is written.
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "stripe.key")
	out := filepath.Join(dir, "bad.env")
	wantFailure(t, s.run("", "render", "--project", "app", "--format", "dotenv", "--out", out), 1, "stripe.key is not an environment variable name", "nothing was written")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused render wrote %s", out)
	}
	wantFailure(t, s.run("", "render", "--project", "empty", "--format", "dotenv"), 1, "project empty has no secrets")
	wantFailure(t, s.run("", "render", "--project", "app", "--env-fallback"), 2, "without --config")
}
