package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCatalogListsWellKnownSecretsWithoutADatabase(t *testing.T) {
	clearSettingsEnv(t)
	r := runCLI(t, "", false, "catalog")
	if r.code != 0 {
		t.Fatalf("catalog failed:\n%s", r)
	}
	for _, want := range []string{"CATEGORY", "SLACK_BOT_TOKEN", `a token starting with "xoxb-"`, "GITHUB_APP_PRIVATE_KEY"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("catalog output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, "", false, "catalog", "--output", "json")
	var entries []struct {
		Name            string `json:"name"`
		Category        string `json:"category"`
		RequiresRestart bool   `json:"requires_restart"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) < 16 {
		t.Fatalf("catalog --output json: %v (%d entries)\n%s", err, len(entries), r)
	}
}
