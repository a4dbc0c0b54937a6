package catalog

import (
	"errors"
	"strings"
	"testing"
)

const testPEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
`

const testCert = `-----BEGIN CERTIFICATE-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END CERTIFICATE-----
`

// shapes lists, per well-known name, values that fit and values that do
// not. Every catalog entry must appear here.
var shapes = map[string]struct{ good, bad []string }{
	"ANTHROPIC_API_KEY":          {[]string{"sk-ant-api03-AbC_dEf-123"}, []string{"sk-proj-abc", "sk-ant-", " sk-ant-api03-x", "sk-ant-api03-x\n", ""}},
	"OPENAI_API_KEY":             {[]string{"sk-proj-AbC123_x", "sk-abcdef"}, []string{"sk-ant-api03-x", "pk-abc", "sk-", "sk-a b"}},
	"GOOGLE_AI_API_KEY":          {[]string{"AIza" + strings.Repeat("Ab1_-", 7)}, []string{"AIza123", "sk-abc", "AIza" + strings.Repeat("x", 36)}},
	"SLACK_BOT_TOKEN":            {[]string{"xoxb-123-456-AbC"}, []string{"xoxp-123-456-AbC", "xoxb-"}},
	"SLACK_APP_TOKEN":            {[]string{"xapp-1-A0-123-abc"}, []string{"xoxb-123-456-AbC"}},
	"SLACK_USER_TOKEN":           {[]string{"xoxp-123-456-AbC"}, []string{"xoxb-123-456-AbC"}},
	"SLACK_SIGNING_SECRET":       {[]string{"8f742231b10e8888abcd990000aa85a5"}, []string{"8F742231B10E8888ABCD990000AA85A5", "8f742231", "xoxb-123"}},
	"WHATSAPP_ACCESS_TOKEN":      {[]string{"EAAG" + strings.Repeat("aB3", 10)}, []string{"EAA", "xoxb-123-456", "EAAG-" + strings.Repeat("a", 30)}},
	"GOOGLE_OAUTH_CLIENT_ID":     {[]string{"123456789012-abc123def456.apps.googleusercontent.com"}, []string{"abc.apps.googleusercontent.com", "123456789012-abc123def456"}},
	"GOOGLE_OAUTH_CLIENT_SECRET": {[]string{"GOCSPX-" + strings.Repeat("aB_-", 7), strings.Repeat("aB3", 8)}, []string{"GOCSPX-short", "client-secret"}},
	"GITHUB_TOKEN":               {[]string{"ghp_" + strings.Repeat("aB3", 12), "github_pat_" + strings.Repeat("aB_", 30)}, []string{"ghx_" + strings.Repeat("a", 36), "ghp_short", "github_pat_short"}},
	"GITHUB_APP_ID":              {[]string{"123456"}, []string{"12a", "-1", "+12", "0", "Iv1.abc"}},
	"GITHUB_APP_PRIVATE_KEY":     {[]string{testPEM, strings.TrimSpace(testPEM)}, []string{testCert, "not a key", testPEM + "trailing"}},
	"JIRA_API_TOKEN":             {[]string{"ATATT3xFfGF0" + strings.Repeat("aB=_-", 10), strings.Repeat("aB3", 8)}, []string{"ATATT", "token with spaces"}},
	"JIRA_EMAIL":                 {[]string{"ops@example.com", "a.b+c@sub.example.org"}, []string{"ops", "Ops <ops@example.com>", "ops@localhost", "ops@example.com "}},
	"JIRA_BASE_URL":              {[]string{"https://example.atlassian.net", "https://jira.example.com/base"}, []string{"http://example.atlassian.net", "example.atlassian.net", "https://user:pw@example.atlassian.net", "https://"}},
}

func TestEveryCatalogEntryAcceptsItsShapeAndRefusesOthers(t *testing.T) {
	for _, e := range All() {
		s, ok := shapes[e.Name]
		if !ok {
			t.Errorf("%s has no shape test cases", e.Name)
			continue
		}
		for _, v := range s.good {
			if err := Validate(e.Name, v); err != nil {
				t.Errorf("%s refused a well-shaped value: %v", e.Name, err)
			}
		}
		for _, v := range s.bad {
			err := Validate(e.Name, v)
			var se *ShapeError
			if !errors.As(err, &se) {
				t.Errorf("%s accepted a wrong-shaped value %q (err %v)", e.Name, v, err)
				continue
			}
			if !strings.Contains(err.Error(), e.Shape) || !strings.Contains(err.Error(), e.Name) {
				t.Errorf("%s: error %q does not name the secret and its expected shape %q", e.Name, err, e.Shape)
			}
		}
	}
	if len(shapes) != len(All()) {
		t.Errorf("%d shape test cases for %d catalog entries", len(shapes), len(All()))
	}
}

func TestWrongShapeErrorNeverEchoesTheValue(t *testing.T) {
	const canary = "CANARY7f3a9"
	for _, e := range All() {
		for _, v := range []string{
			canary,
			"sk-ant-" + canary + " ",
			" " + canary,
			"https://" + canary + ":pw@x.example",
			"http://" + canary + ".example",
			"-----BEGIN CERTIFICATE-----\n" + canary + "\n-----END CERTIFICATE-----\n",
			canary + "@",
		} {
			err := Validate(e.Name, v)
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("%s: error echoes the value: %v", e.Name, err)
			}
		}
	}
}

func TestWhitespaceAroundATokenIsExplained(t *testing.T) {
	err := Validate("SLACK_BOT_TOKEN", "xoxb-123-456-abc\n")
	if err == nil || !strings.Contains(err.Error(), "leading or trailing whitespace") {
		t.Fatalf("got %v, want a whitespace explanation", err)
	}
}

func TestAnthropicKeyInOpenAISlotIsNamed(t *testing.T) {
	err := Validate("OPENAI_API_KEY", "sk-ant-api03-abc")
	if err == nil || !strings.Contains(err.Error(), "an Anthropic key") {
		t.Fatalf("got %v, want it to say the value is an Anthropic key", err)
	}
}

func TestNamesOutsideTheCatalogAreNotChecked(t *testing.T) {
	if err := Validate("STRIPE_KEY", "anything at all"); err != nil {
		t.Fatalf("unknown name validated: %v", err)
	}
	if _, ok := Lookup("STRIPE_KEY"); ok {
		t.Fatal("Lookup found a name outside the catalog")
	}
	if DefaultCategory("STRIPE_KEY") != "" || RequiresRestart("STRIPE_KEY") {
		t.Fatal("defaults given for a name outside the catalog")
	}
}

func TestCatalogCoversTheIssueList(t *testing.T) {
	want := map[string]string{
		"ANTHROPIC_API_KEY": "ai", "OPENAI_API_KEY": "ai", "GOOGLE_AI_API_KEY": "ai",
		"SLACK_BOT_TOKEN": "slack", "SLACK_APP_TOKEN": "slack", "SLACK_USER_TOKEN": "slack", "SLACK_SIGNING_SECRET": "slack",
		"WHATSAPP_ACCESS_TOKEN":  "whatsapp",
		"GOOGLE_OAUTH_CLIENT_ID": "google", "GOOGLE_OAUTH_CLIENT_SECRET": "google",
		"GITHUB_TOKEN": "github", "GITHUB_APP_ID": "github", "GITHUB_APP_PRIVATE_KEY": "github",
		"JIRA_API_TOKEN": "jira", "JIRA_EMAIL": "jira", "JIRA_BASE_URL": "jira",
	}
	for name, cat := range want {
		e, ok := Lookup(name)
		if !ok {
			t.Errorf("%s is missing from the catalog", name)
			continue
		}
		if e.Category != cat || DefaultCategory(name) != cat {
			t.Errorf("%s category %q, want %q", name, e.Category, cat)
		}
		if e.Description == "" || e.Shape == "" {
			t.Errorf("%s lacks a description or shape", name)
		}
	}
	if !RequiresRestart("SLACK_APP_TOKEN") || RequiresRestart("OPENAI_API_KEY") {
		t.Error("restart notices are not the catalog's")
	}
}

func TestAllIsOrderedByCategoryThenName(t *testing.T) {
	all := All()
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Category > b.Category || (a.Category == b.Category && a.Name >= b.Name) {
			t.Errorf("%s/%s listed before %s/%s", a.Category, a.Name, b.Category, b.Name)
		}
	}
	all[0].Name = "changed"
	if All()[0].Name == "changed" {
		t.Error("All returns the catalog itself, which a caller can change")
	}
}
