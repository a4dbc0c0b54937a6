package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// complete runs cobra's hidden completion request, as the shell scripts
// do on <Tab>, and returns the values offered (without descriptions) and
// the directive line.
func (s *session) complete(args ...string) (values []string, directive string, r result) {
	s.t.Helper()
	// The database as the flag a user would have typed, before the flag
	// being completed and its partial value; root keys only if the test
	// sets s.keysFile.
	n := len(args) - 2
	full := append([]string{cobra.ShellCompRequestCmd}, args[:n]...)
	full = append(full, "--database-url", s.dbURL)
	if s.keysFile != "" {
		full = append(full, "--root-keys-file", s.keysFile)
	}
	full = append(full, args[n:]...)
	return parseCompletion(s.t, runCLI(s.t, "", false, full...))
}

func parseCompletion(t *testing.T, r result) (values []string, directive string, _ result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("__complete failed:\n%s", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	directive = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values, directive, r
}

// noFileComp is ShellCompDirectiveNoFileComp as the scripts read it.
const noFileComp = ":4"

func TestCompletionOffersProjectsAndNamesFromMetadata(t *testing.T) {
	s := newSession(t)
	s.mustRun("v1", "secret", "add", "--project", "billing", "--name", "STRIPE_KEY", "--description", "Stripe live key")
	s.mustRun("v2", "secret", "add", "--project", "billing", "--name", "STRIPE_WEBHOOK_SECRET")
	s.mustRun("v3", "secret", "add", "--project", "billing", "--name", "PAYPAL_TOKEN")
	s.mustRun("v4", "secret", "add", "--project", "bots", "--name", "SUPPORT_BOT_TOKEN")
	s.mustRun("v5", "secret", "add", "--project", "chat", "--name", "MODEL_API_KEY")
	s.keysFile = "" // completion needs no root keys
	events := s.auditEventCount()

	for _, tc := range []struct {
		args []string
		want []string
	}{
		// --project, on single-secret commands and on others.
		{[]string{"secret", "get", "--project", ""}, []string{"billing", "bots", "chat"}},
		{[]string{"secret", "get", "--project", "b"}, []string{"billing", "bots"}},
		{[]string{"secret", "list", "--project", "c"}, []string{"chat"}},
		{[]string{"import-env", "--project", "bi"}, []string{"billing"}},
		{[]string{"audit", "export", "--project", "bo"}, []string{"bots"}},
		{[]string{"secret", "get", "--project", "zzz"}, nil},
		// --name uses the --project already typed.
		{[]string{"secret", "get", "--project", "billing", "--name", ""}, []string{"PAYPAL_TOKEN", "STRIPE_KEY", "STRIPE_WEBHOOK_SECRET"}},
		{[]string{"secret", "delete", "--project", "billing", "--name", "STR"}, []string{"STRIPE_KEY", "STRIPE_WEBHOOK_SECRET"}},
		{[]string{"secret", "add", "--project=bots", "--name", ""}, []string{"SUPPORT_BOT_TOKEN"}},
		{[]string{"secret", "history", "--project", "chat", "--name", "M"}, []string{"MODEL_API_KEY"}},
		// Without --project there is nothing to complete --name from.
		{[]string{"secret", "get", "--name", ""}, nil},
	} {
		got, directive, r := s.complete(tc.args...)
		if !reflect.DeepEqual(got, tc.want) || directive != noFileComp {
			t.Errorf("completing %q: got %q %s, want %q %s\n%s", tc.args, got, directive, tc.want, noFileComp, r)
		}
	}

	// Descriptions, for the shells that show them.
	_, _, r := s.complete("secret", "get", "--project", "billing", "--name", "STRIPE_K")
	if !strings.Contains(r.stdout, "STRIPE_KEY\tStripe live key\n") {
		t.Errorf("no description with the name:\n%s", r)
	}
	_, _, r = s.complete("secret", "get", "--project", "bill")
	if !strings.Contains(r.stdout, "billing\t3 secrets\n") {
		t.Errorf("no secret count with the project:\n%s", r)
	}

	if n := s.auditEventCount(); n != events {
		t.Errorf("completion wrote %d audit event(s)", n-events)
	}
}

// auditEventCount counts the audit trail's events with a metadata-only
// export, which records nothing itself.
func (s *session) auditEventCount() int {
	s.t.Helper()
	keys := s.keysFile
	s.keysFile = ""
	defer func() { s.keysFile = keys }()
	r := s.run("", "audit", "export")
	if r.code != 0 {
		s.t.Fatalf("audit export failed:\n%s", r)
	}
	return strings.Count(r.stdout, "\n")
}

// Root keys that are configured are not even read: a wrong or missing key
// file does not get in the way of completing names.
func TestCompletionIgnoresRootKeys(t *testing.T) {
	s := newSession(t)
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "TOKEN")
	s.keysFile = s.generateKeysFile("someone-elses-keys.json")
	got, directive, r := s.complete("secret", "get", "--project", "app", "--name", "")
	if !reflect.DeepEqual(got, []string{"TOKEN"}) || directive != noFileComp {
		t.Errorf("with another deployment's root keys: got %q %s\n%s", got, directive, r)
	}
	t.Setenv("PGSECRETS_ROOT_KEYS_FILE", "/nonexistent/root-keys.json")
	s.keysFile = ""
	got, _, r = s.complete("secret", "get", "--project", "app", "--name", "")
	if !reflect.DeepEqual(got, []string{"TOKEN"}) {
		t.Errorf("with a missing root keys file: got %q\n%s", got, r)
	}
}

// An unreachable or unmigrated database, or none configured, gives no
// completions, no file names, and nothing a shell would show.
func TestCompletionFailsQuietly(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("PGHOST", "127.0.0.1")
	t.Setenv("PGPORT", "1")
	unmigrated := newUnmigratedSession(t)
	for name, args := range map[string][]string{
		"unreachable":        {"secret", "get", "--database-url", "postgres://pgsecrets@127.0.0.1:1/app?connect_timeout=2", "--project", ""},
		"remote, no sslmode": {"secret", "get", "--database-url", "postgres://pgsecrets@192.0.2.1:1/app?connect_timeout=1", "--project", ""},
		"bad URL":            {"secret", "get", "--database-url", "postgres://%zz", "--project", ""},
		"not configured":     {"secret", "list", "--project", ""},
		"unmigrated":         {"secret", "get", "--database-url", unmigrated.dbURL, "--project", "app", "--name", ""},
	} {
		values, directive, r := parseCompletion(t, runCLI(t, "", false, append([]string{cobra.ShellCompRequestCmd}, args...)...))
		if len(values) != 0 || directive != noFileComp {
			t.Errorf("%s: got %q %s, want nothing and %s\n%s", name, values, directive, noFileComp, r)
		}
		// cobra's own note on stderr, which every script discards, is all.
		if r.stderr != "Completion ended with directive: ShellCompDirectiveNoFileComp\n" {
			t.Errorf("%s: stderr is more than cobra's note:\n%s", name, r)
		}
	}
}

// Every command with --project completes it, and every command with both
// --project and --name completes --name: the registration walks the
// whole tree, commands added later included.
func TestCompletionRegisteredOnEveryProjectFlag(t *testing.T) {
	root := NewRootCmd(&IOStreams{}, "test")
	var withProject int
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flag("project") != nil {
			withProject++
			if _, ok := c.GetFlagCompletionFunc("project"); !ok {
				t.Errorf("%s: --project has no completion", c.CommandPath())
			}
			if c.Flag("name") != nil {
				if _, ok := c.GetFlagCompletionFunc("name"); !ok {
					t.Errorf("%s: --name has no completion", c.CommandPath())
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if withProject < 10 {
		t.Errorf("only %d commands with --project", withProject)
	}
}

// The scripts for the four shells ask the binary (`pgsecrets __complete
// ...`) for completions at <Tab>, which is what makes --project and --name
// values dynamic; each hooks itself into its shell.
func TestCompletionScriptsCallBackForDynamicValues(t *testing.T) {
	clearSettingsEnv(t)
	for shell, hooks := range map[string][]string{
		"bash":       {"__start_pgsecrets", "complete -o default -F __start_pgsecrets pgsecrets", "__complete"},
		"zsh":        {"#compdef pgsecrets", "compdef _pgsecrets pgsecrets", "__complete"},
		"fish":       {"complete -c pgsecrets", "__pgsecrets_perform_completion", "__complete"},
		"powershell": {"Register-ArgumentCompleter -CommandName 'pgsecrets'", "__complete"},
	} {
		r := runCLI(t, "", false, "completion", shell)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("completion %s:\n%s", shell, r)
		}
		for _, h := range hooks {
			if !strings.Contains(r.stdout, h) {
				t.Errorf("completion %s lacks %q", shell, h)
			}
		}
	}
}

// Sourced in a bash without the bash-completion package, the script says
// what is missing once, rather than failing on every Tab; with it, the
// script is silent and defines the completion.
func TestBashCompletionSaysWhenBashCompletionIsMissing(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to source the completion script: ", err)
	}
	r := runCLI(t, "", false, "completion", "bash")
	if r.code != 0 {
		t.Fatalf("completion bash:\n%s", r)
	}
	script := filepath.Join(t.TempDir(), "pgsecrets.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		before string
		warns  bool
	}{
		{"", true},
		{"_get_comp_words_by_ref() { :; }", false}, // what bash-completion defines
	} {
		out, err := exec.Command(bash, "--norc", "--noprofile", "-c", c.before+"\nsource "+script+"\ncomplete -p pgsecrets 2>/dev/null || echo no-completion").CombinedOutput()
		if err != nil {
			t.Fatalf("source the script: %v\n%s", err, out)
		}
		warned := strings.Contains(string(out), "bash-completion is not loaded")
		defined := !strings.Contains(string(out), "no-completion")
		if warned != c.warns || defined == c.warns {
			t.Errorf("with %q: warned %v, completion defined %v:\n%s", c.before, warned, defined, out)
		}
	}
}
