package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSuggestionsWhereAUserIsClose(t *testing.T) {
	clearSettingsEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"secrets", "list"}, `unknown command "secrets" for "pgsecrets"; did you mean "secret"? (see ` + "`pgsecrets --help`)"},
		{[]string{"add", "--project", "app"}, "unknown command \"add\" for \"pgsecrets\"; did you mean `pgsecrets account add` or `pgsecrets key add` or `pgsecrets secret add`?"},
		{[]string{"status2"}, `did you mean "status"?`},
		{[]string{"secret", "lst", "--project", "app"}, `unknown command "lst" for "pgsecrets secret"; did you mean "get" or "list"?`},
		{[]string{"verify"}, "did you mean `pgsecrets audit verify`?"},
		{[]string{"migrate", "register"}, "did you mean `pgsecrets key register`?"},
		{[]string{"secret", "list", "--projet", "app"}, "unknown flag: --projet; did you mean --project? (see `pgsecrets secret list --help`)"},
		{[]string{"run", "--porject", "app", "--", "env"}, "did you mean --project?"},
		{[]string{"audit", "export", "--output-file", "x.jsonl"}, "unknown flag: --output-file (see"},
	} {
		wantFailure(t, runCLI(t, "", false, tc.args...), 2, tc.want)
	}
}

func TestSecretValueFlagHintNeverEchoesTheValue(t *testing.T) {
	clearSettingsEnv(t)
	const canary = "canary-value-flag-8e2a"
	for _, args := range [][]string{
		{"secret", "add", "--project", "app", "--name", "TOKEN", "--value", canary},
		{"secret", "add", "--project", "app", "--name", "TOKEN", "--value=" + canary},
		{"secret", "add", "--project", "app", "--name", "TOKEN", "--secret=" + canary},
		{"secret", "add", "--value", canary, "--project", "app", "--name", "TOKEN"},
	} {
		r := runCLI(t, "", false, args...)
		wantFailure(t, r, 2, "unknown flag: --", "; a secret value never goes on the command line, where other users of the machine can read it; pipe it to stdin, type it at the prompt, or pass --file FILE (see `pgsecrets secret add --help`)")
		if strings.Contains(r.stdout+r.stderr, "canary") {
			t.Errorf("the value is echoed:\n%s", r)
		}
	}
	// Where no value is read, --value is just unknown.
	r := runCLI(t, "", false, "secret", "list", "--value", canary)
	wantFailure(t, r, 2, "unknown flag: --value (see `pgsecrets secret list --help`)")
	if strings.Contains(r.stderr, "canary") {
		t.Errorf("the value is echoed:\n%s", r)
	}
}

// A renamed group still runs under its old spelling, with a notice on
// stderr that names the new one, and is not offered in help.
func TestOldSpellingsRunWithANotice(t *testing.T) {
	s := newSession(t)
	for _, tc := range []struct{ old, current []string }{
		{[]string{"keys", "status"}, []string{"key", "status"}},
		{[]string{"user", "list"}, []string{"account", "list"}},
		{[]string{"defaults", "get", "--project", "app"}, []string{"model-defaults", "get", "--project", "app"}},
	} {
		want := s.mustRun("", tc.current...)
		got := s.mustRun("", tc.old...)
		notice := "Notice: `pgsecrets " + tc.old[0] + "` is now `pgsecrets " + tc.current[0] + "`; the old spelling still works for now\n"
		if got.stdout != want.stdout || !strings.HasPrefix(got.stderr, notice) {
			t.Errorf("pgsecrets %s:\n%s\nwant the output of pgsecrets %s and the notice", strings.Join(tc.old, " "), got, strings.Join(tc.current, " "))
		}
		if strings.Contains(want.stderr, "Notice") {
			t.Errorf("pgsecrets %s gave a notice:\n%s", strings.Join(tc.current, " "), want)
		}
	}
	help := s.mustRun("", "--help").stdout
	for _, old := range []string{"\n  keys ", "\n  user ", "\n  defaults "} {
		if strings.Contains(help, old) {
			t.Errorf("help lists the old spelling %q:\n%s", old, help)
		}
	}
}

// A flag renamed to the one spelling for its kind (--out writes a file,
// --file reads one) still works under its old spelling, with a notice.
func TestOldFlagSpellingsRunWithANotice(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	value := filepath.Join(dir, "value")
	if err := os.WriteFile(value, []byte("sk-ant-old-flag"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.mustRun("", "secret", "add", "--project", "app", "--name", "ANTHROPIC_API_KEY", "--value-file", value)
	if !strings.HasPrefix(r.stderr, "Notice: --value-file is now --file; the old spelling still works for now\n") {
		t.Errorf("secret add --value-file:\n%s", r)
	}
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "ANTHROPIC_API_KEY").stdout; got != "sk-ant-old-flag" {
		t.Errorf("the value read through --value-file is %q", got)
	}
	keys := filepath.Join(dir, "keys.json")
	r = runCLI(t, "", false, "key", "generate", "--file", keys)
	if r.code != 0 || !strings.HasPrefix(r.stderr, "Notice: --file is now --out; the old spelling still works for now\n") {
		t.Errorf("key generate --file:\n%s", r)
	}
	if _, err := os.Stat(keys); err != nil {
		t.Errorf("key generate --file wrote no file: %v", err)
	}
	if help := runCLI(t, "", false, "secret", "add", "--help").stdout; strings.Contains(help, "value-file") {
		t.Errorf("help lists the old spelling:\n%s", help)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"project", "project", 0}, {"projet", "project", 1}, {"porject", "project", 2}, {"", "abc", 3}, {"kitten", "sitting", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
