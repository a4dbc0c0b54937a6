package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	r := s.mustRun("", "render", "--project", "app", "--config", config, "--env-fallback", "--output", out)
	if r.stdout != "" {
		t.Errorf("render --output wrote to stdout: %q", r.stdout)
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
	r = s.run("", "render", "--project", "app", "--config", config, "--output", out)
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
