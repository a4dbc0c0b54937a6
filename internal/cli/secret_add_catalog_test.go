package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSecretAddRefusesWrongShapeWithoutEchoingIt(t *testing.T) {
	s := newSession(t)
	const canary = "xoxp-CANARY-4f1c2"
	r := s.run(canary, "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")
	wantFailure(t, r, 1, "SLACK_BOT_TOKEN", `a token starting with "xoxb-"`, "--no-validate", "nothing was written")
	if strings.Contains(r.stdout+r.stderr, "CANARY") {
		t.Fatalf("the refused value was echoed:\n%s", r)
	}
	s.mustRun(canary, "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN", "--no-validate")
}

func TestSecretAddTakesCategoryAndRestartFromTheCatalog(t *testing.T) {
	s := newSession(t)
	s.mustRun("xapp-1-A0-123-abc", "secret", "add", "--project", "app", "--name", "SLACK_APP_TOKEN")
	s.mustRun("plain", "secret", "add", "--project", "app", "--name", "CUSTOM", "--category", "mine", "--requires-restart")
	s.mustRun("sk-proj-abc", "secret", "add", "--project", "app", "--name", "OPENAI_API_KEY", "--category", "llm")
	r := s.mustRun("", "secret", "list", "--project", "app", "--output", "json")
	var list []struct {
		Name            string `json:"name"`
		Category        string `json:"category"`
		RequiresRestart bool   `json:"requires_restart"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range list {
		got[m.Name] = m.Category
		if m.RequiresRestart != (m.Name != "OPENAI_API_KEY") {
			t.Errorf("%s requires_restart = %v", m.Name, m.RequiresRestart)
		}
	}
	if got["SLACK_APP_TOKEN"] != "slack" || got["CUSTOM"] != "mine" || got["OPENAI_API_KEY"] != "llm" {
		t.Errorf("categories = %v, want slack from the catalog, custom ones kept", got)
	}
}
