package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDefaultsSetMergesAndGetShowsThem(t *testing.T) {
	s := newSession(t)
	r := s.mustRun("", "model-defaults", "set", "--project", "app", "--chat", "anthropic/claude-sonnet-4-5", "--code", "openai/gpt-4.1")
	if r.stdout != "Set model defaults of project app: chat=anthropic/claude-sonnet-4-5 code=openai/gpt-4.1\n" {
		t.Errorf("set printed %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "project app has no secret ANTHROPIC_API_KEY") || !strings.Contains(r.stderr, "OPENAI_API_KEY") {
		t.Errorf("no missing-key warning:\n%s", r.stderr)
	}
	r = s.mustRun("", "model-defaults", "set", "--project", "app", "--summary", "openrouter/meta/llama-3", "--remove", "code")
	r = s.mustRun("", "model-defaults", "get", "--project", "app", "--output", "json")
	var defs []struct{ UseCase, Provider, Model string }
	if err := json.Unmarshal([]byte(r.stdout), &defs); err != nil {
		t.Fatal(err)
	}
	if len(defs) != 2 || defs[0].Provider != "anthropic" || defs[1].Model != "meta/llama-3" {
		t.Errorf("defaults = %+v, want chat kept, code removed, summary added", defs)
	}
	r = s.mustRun("", "model-defaults", "get", "--project", "app")
	if !strings.Contains(r.stdout, "summary   openrouter  meta/llama-3") {
		t.Errorf("get table:\n%s", r.stdout)
	}
}

func TestDefaultsSetRefusesBadInput(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("", "model-defaults", "set", "--project", "app"), 2, "nothing to set")
	wantFailure(t, s.run("", "model-defaults", "set", "--project", "app", "--chat", "claude"), 2, `--chat "claude" is not PROVIDER/MODEL`)
	wantFailure(t, s.run("", "model-defaults", "set", "--project", "app", "--remove", "vision"), 2, `use case "vision" is not valid`)
}
