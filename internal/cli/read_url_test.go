//go:build linux || darwin

package cli

import (
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// With a read URL, run, render and secret get read a standby: one that is
// behind serves the previous revision, and --consistent the latest. A
// write never reaches the read URL, even a broken one.
func TestRunRenderAndGetReadTheStandbyUnlessConsistent(t *testing.T) {
	clearSettingsEnv(t)
	db := storetest.NewStandbyDB(t)
	s := &session{t: t, dbURL: db.URL}
	s.keysFile = s.generateKeysFile("root-keys.json")
	s.mustRun("", "migrate", "up")
	s.mustRun("v1", "secret", "add", "--project", "app", "--name", "TOKEN")
	db.Cluster.WaitReplayed(t)
	db.PauseReplay(t)
	s.mustRun("v2", "secret", "add", "--yes", "--project", "app", "--name", "TOKEN")
	t.Setenv(settings.EnvReadURL, db.StandbyURL)

	for _, tc := range []struct {
		flags []string
		want  string
	}{{nil, "v1"}, {[]string{"--consistent"}, "v2"}} {
		if r := s.mustRun("", append([]string{"secret", "get", "--project", "app", "--name", "TOKEN"}, tc.flags...)...); r.stdout != tc.want {
			t.Errorf("secret get %v: %q, want %q", tc.flags, r.stdout, tc.want)
		}
		if r := s.mustRun("", append([]string{"render", "--project", "app", "--format", "dotenv"}, tc.flags...)...); r.stdout != "TOKEN='"+tc.want+"'\n" {
			t.Errorf("render %v: %q, want TOKEN='%s'", tc.flags, r.stdout, tc.want)
		}
		command, report := runChild(t, "report", "TOKEN")
		s.mustRun("", append(append([]string{"run", "--project", "app"}, tc.flags...), append([]string{"--"}, command...)...)...)
		if got := readChildReport(t, report).Env["TOKEN"]; got != tc.want {
			t.Errorf("run %v: the command got %q, want %q", tc.flags, got, tc.want)
		}
	}
	// --read-url wins over the environment.
	r := s.run("", "secret", "get", "--project", "app", "--name", "TOKEN", "--read-url", "postgres://nobody:hunter2@127.0.0.1:1/x")
	wantFailure(t, r, 1, "read URL nobody@127.0.0.1:1/x (from --read-url)", "--consistent")
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the error shows the read URL's password:\n%s", r)
	}
	t.Setenv(settings.EnvReadURL, "postgres://nobody:hunter2@127.0.0.1:1/x")
	s.mustRun("v3", "secret", "add", "--yes", "--project", "app", "--name", "TOKEN")
	if r := s.mustRun("", "secret", "get", "--project", "app", "--name", "TOKEN", "--consistent"); r.stdout != "v3" {
		t.Errorf("consistent get after a write with a broken read URL: %q, want v3", r.stdout)
	}
}
