package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestEveryCommandHelpHasExample(t *testing.T) {
	root := NewRootCmd(&IOStreams{}, "test")
	var walk func(*cobra.Command)
	seen := 0
	walk = func(cmd *cobra.Command) {
		if cmd.Hidden {
			return
		}
		seen++
		path := strings.Fields(cmd.CommandPath())[1:]
		r := runCLI(t, "", false, append(path, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "\nExamples:\n  ") || r.stderr != "" {
			t.Errorf("pgsecrets %s --help has no Examples section:\n%s", strings.Join(path, " "), r)
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
	if seen < 14 {
		t.Errorf("walked %d commands; the tree is smaller than expected", seen)
	}
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	clearSettingsEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "pgsecrets" (see ` + "`pgsecrets --help`)"},
		{[]string{"secert"}, `unknown command "secert" for "pgsecrets"; did you mean "secret"?`},
		{[]string{"secret", "show"}, `unknown command "show" for "pgsecrets secret"`},
		{[]string{"secret", "lst"}, `did you mean "get" or "list"?`},
		{[]string{"migrate", "status2"}, `unknown command "status2" for "pgsecrets migrate"; did you mean "status"?`},
		{[]string{"secret", "get", "--nmae", "x"}, "unknown flag: --nmae; did you mean --name? (see `pgsecrets secret get --help`)"},
		{[]string{"secret", "get", "--project", "app"}, "--name is required"},
		{[]string{"secret", "get"}, "--project and --name are required"},
		{[]string{"secret", "get", "app", "TOKEN"}, "unexpected argument (2 given): pgsecrets secret get takes flags only"},
		{[]string{"secret", "get", "--project", "a/b", "--name", "x"}, `project "a/b" is not valid`},
		{[]string{"secret", "list", "--output", "yaml"}, `--output "yaml" is not supported: use text or json`},
		{[]string{"migrate", "up", "--schema"}, "flag needs an argument: --schema"},
		{[]string{"completion"}, "name one shell: bash, zsh, fish or powershell"},
		{[]string{"help", "secret", "show"}, `unknown help topic "secret show"`},
	} {
		wantFailure(t, runCLI(t, "", false, tc.args...), 2, tc.want)
	}
}

func TestBadSchemaNameIsRefused(t *testing.T) {
	clearSettingsEnv(t)
	wantFailure(t, runCLI(t, "", false, "--schema", "Bad-Schema", "migrate", "status"), 1, `schema "Bad-Schema": use lower-case letters`)
}

func TestVersionPrintsVersionAndSchemaVersion(t *testing.T) {
	r := runCLI(t, "", false, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "pgsecrets 1.2.3-test (schema version ") {
		t.Errorf("version:\n%s", r)
	}
	r = runCLI(t, "", false, "--version")
	if r.code != 0 || r.stdout != "pgsecrets 1.2.3-test\n" {
		t.Errorf("--version:\n%s", r)
	}
	var v struct {
		Version       string `json:"version"`
		SchemaVersion int32  `json:"schema_version"`
	}
	r = runCLI(t, "", false, "version", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Version != "1.2.3-test" || v.SchemaVersion != store.LatestVersion() {
		t.Errorf("version JSON = %+v (%v)", v, err)
	}
}

func TestGroupCommandAloneShowsHelp(t *testing.T) {
	for _, args := range [][]string{{"secret"}, {"help", "secret"}} {
		r := runCLI(t, "", false, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") || !strings.Contains(r.stdout, "delete") {
			t.Errorf("pgsecrets %s:\n%s", strings.Join(args, " "), r)
		}
	}
}
