package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStatusSinceReportsRestartBoundChangesAndExitCode(t *testing.T) {
	s := newSession(t)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	r := s.mustRun("", "status", "--since", since, "--exit-code")
	if !strings.HasPrefix(r.stdout, "No restart needed") {
		t.Errorf("empty store: %s", r)
	}

	s.mustRun("sk-proj-abc", "secret", "add", "--project", "app", "--name", "OPENAI_API_KEY")
	r = s.mustRun("", "status", "--since", "1h", "--exit-code")
	if !strings.HasPrefix(r.stdout, "No restart needed") {
		t.Errorf("a key that needs no restart was reported: %s", r)
	}

	s.mustRun("xoxb-1-2-abc", "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")
	r = s.run("", "status", "--since", since, "--exit-code")
	if r.code != exitRestartNeeded || r.stderr != "" || !strings.Contains(r.stdout, "Restart needed: 1 secret(s)") || !strings.Contains(r.stdout, "SLACK_BOT_TOKEN") {
		t.Fatalf("want exit 3 listing SLACK_BOT_TOKEN:\n%s", r)
	}
	// Without --exit-code, success is 0 whatever the answer.
	r = s.mustRun("", "status", "--since", since, "--project", "app", "--output", "json")
	var got struct {
		RestartRequired bool `json:"restart_required"`
		Secrets         []struct {
			Name string `json:"name"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || !got.RestartRequired || len(got.Secrets) != 1 || got.Secrets[0].Name != "SLACK_BOT_TOKEN" {
		t.Fatalf("status json = %+v (%v)\n%s", got, err, r)
	}
	r = s.mustRun("", "status", "--since", time.Now().Add(time.Hour).Format("2006-01-02T15:04:05Z07:00"))
	if !strings.HasPrefix(r.stdout, "No restart needed") {
		t.Errorf("changes before --since were reported: %s", r)
	}
}

func TestStatusRefusesABadSince(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("", "status", "--since", "yesterday"), 2, `--since "yesterday" is not a time`, "24h")
	wantFailure(t, s.run("", "status", "--ack"), 2, "--project is required")
	wantFailure(t, s.run("", "status", "--ack", "--project", "app", "--since", "1h"), 2, "does not combine with --since")
}

func TestStatusSinceTakesTheSameFormsAsAuditExport(t *testing.T) {
	s := newSession(t)
	s.mustRun("xoxb-1-2-abc", "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")
	for _, since := range []string{"7d", "24h", time.Now().UTC().Format("2006-01-02"), time.Now().Add(-time.Hour).Format(time.RFC3339)} {
		r := s.mustRun("", "status", "--since", since)
		if !strings.HasPrefix(r.stdout, "Restart needed: 1 secret(s)") {
			t.Errorf("status --since %s:\n%s", since, r)
		}
	}
	wantFailure(t, s.run("", "status", "--since", "-1d"), 2, "--since -1d is negative: give how long ago, e.g. 24h or 7d")
	wantFailure(t, s.run("", "status", "--since", "last week"), 2, `--since "last week" is not a time: use RFC 3339, e.g. 2025-01-31T08:00:00Z, a date, e.g. 2025-01-31, or a duration ago, e.g. 24h or 7d`)
}

func TestStatusShowsRestartPendingUntilAcked(t *testing.T) {
	s := newSession(t)
	r := s.mustRun("", "status", "--exit-code")
	if !strings.HasPrefix(r.stdout, "No restart pending") {
		t.Errorf("empty store: %s", r)
	}
	s.mustRun("xoxb-1-2-abc", "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")
	s.mustRun("sk-proj-abc", "secret", "add", "--project", "app", "--name", "OPENAI_API_KEY")
	r = s.run("", "status", "--project", "app", "--exit-code")
	if r.code != exitRestartNeeded || !strings.HasPrefix(r.stdout, "Restart pending for app:") || !strings.Contains(r.stdout, "SLACK_BOT_TOKEN") ||
		strings.Contains(r.stdout, "OPENAI_API_KEY") || !strings.Contains(r.stdout, "never recorded") || !strings.Contains(r.stdout, "pgsecrets status --project app --ack") {
		t.Fatalf("want exit 3 listing SLACK_BOT_TOKEN only:\n%s", r)
	}

	r = s.mustRun("", "--actor", "deploy-hook", "status", "--project", "app", "--ack")
	if !strings.HasPrefix(r.stdout, "Recorded a restart of project app at ") || !strings.HasSuffix(r.stdout, "; it covers SLACK_BOT_TOKEN.\n") {
		t.Fatalf("ack:\n%s", r)
	}
	r = s.mustRun("", "status", "--exit-code", "--output", "json")
	var got struct {
		RestartRequired bool  `json:"restart_required"`
		Pending         []any `json:"pending"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.RestartRequired || len(got.Pending) != 0 {
		t.Fatalf("after the ack: %+v (%v)\n%s", got, err, r)
	}
	r = s.mustRun("", "audit", "export", "--action", "restart.ack")
	if !strings.Contains(r.stdout, `"actor":"deploy-hook"`) || !strings.Contains(r.stdout, `"project":"app"`) || !strings.Contains(r.stdout, `SLACK_BOT_TOKEN`) {
		t.Fatalf("restart.ack not audited:\n%s", r)
	}
	r = s.mustRun("", "status", "--project", "app", "--ack")
	if !strings.HasSuffix(r.stdout, "; nothing was pending.\n") {
		t.Fatalf("second ack:\n%s", r)
	}
}
