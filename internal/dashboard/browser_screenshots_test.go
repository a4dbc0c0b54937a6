package dashboard

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// screenshotsEnv, set to 1, makes TestBrowserScreenshotsForTheDocs write
// the pictures of docs/images (`make screenshots`); without it the test
// takes them and checks them but writes nothing, so `make test` leaves the
// tree as it was.
const screenshotsEnv = "PGSECRETS_UPDATE_SCREENSHOTS"

// screenshotsDir is docs/images, from this package's directory.
const screenshotsDir = "../../docs/images"

// maxScreenshotBytes keeps the repository light.
const maxScreenshotBytes = 300 << 10

// sampleSecret is a secret of the pictures: values are made up, and no
// page but a reveal (never pictured) shows one anyway.
type sampleSecret struct {
	project, name, value, category, description string
	restart                                     bool
	by, via                                     string
}

var sampleSecrets = []sampleSecret{
	{"billing", "STRIPE_KEY", "sk_live_sample", "payments", "Stripe live key", false, "deploy@ci", store.ChannelTerraform},
	{"billing", "STRIPE_WEBHOOK_SECRET", "whsec_sample", "payments", "verifies Stripe's webhooks", true, "deploy@ci", store.ChannelTerraform},
	{"billing", "OPENAI_API_KEY", "sk-proj-sample", "", "", false, "alice@ops-laptop", store.ChannelCLI},
	{"support-bot", "ANTHROPIC_API_KEY", "sk-ant-api03-sample", "", "Claude, for answers", false, "deploy@ci", store.ChannelTerraform},
	{"support-bot", "SLACK_SIGNING_SECRET", "8f14e45fceea167a5a36dedd4bea2543", "", "", false, "deploy@ci", store.ChannelTerraform},
	{"support-bot", "JIRA_BASE_URL", "https://example.atlassian.net", "", "", false, "deploy@ci", store.ChannelTerraform},
	{"support-bot", "JIRA_EMAIL", "bot@example.com", "", "", false, "deploy@ci", store.ChannelTerraform},
	{"support-bot", "ESCALATION_WEBHOOK", "https://hooks.example.com/sample", "webhooks", "paged when the bot gives up", false, "alice@ops-laptop", store.ChannelCLI},
	{"support-bot", "SLACK_BOT_TOKEN", "xoxb-1111-2222-sample", "", "the bot's token in the support workspace", false, "alice@ops-laptop", store.ChannelCLI},
}

// TestBrowserScreenshotsForTheDocs takes the pictures of the README and
// docs/dashboard.md, of made-up secrets, and checks that each page shows
// what its picture is for and no value.
func TestBrowserScreenshotsForTheDocs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.account("admin@example.com", store.RoleAdmin)
	for i, s := range sampleSecrets {
		if i == len(sampleSecrets)-1 {
			// The last change is one the application has not restarted
			// for, so the page shows the restart notice.
			if _, _, err := e.otherStore("deploy@ci", store.ChannelCLI).AckRestart(ctx, "support-bot"); err != nil {
				t.Fatal(err)
			}
		}
		var restart *bool // nil: the catalog's answer
		if s.restart {
			restart = new(true)
		}
		_, err := e.otherStore(s.by, s.via).PutSecret(ctx, store.PutSecretInput{
			Project: s.project, Name: s.name, Value: []byte(s.value), Description: s.description, Category: s.category,
			RequiresRestart: restart, Validate: true, ExpectedRevision: store.MustNotExist,
		})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if _, err := e.otherStore("deploy@ci", store.ChannelTerraform).PatchModelDefaults(ctx, "support-bot", []store.ModelDefault{
		{UseCase: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5"},
		{UseCase: "code", Provider: "openai", Model: "gpt-4.1"},
		{UseCase: "summary", Provider: "anthropic", Model: "claude-haiku-4-5"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	// History to show: ANTHROPIC_API_KEY rotated by hand, then written
	// by Terraform again, and a secret deleted that can still be brought
	// back.
	for i, by := range []sampleSecret{{by: "alice@ops-laptop", via: store.ChannelCLI}, {by: "deploy@ci", via: store.ChannelTerraform}} {
		if _, err := e.otherStore(by.by, by.via).PutSecret(ctx, store.PutSecretInput{
			Project: "support-bot", Name: "ANTHROPIC_API_KEY", Value: []byte("sk-ant-api03-sample-" + by.by), Description: "Claude, for answers",
			Validate: true, ExpectedRevision: int64(i + 1),
		}); err != nil {
			t.Fatal(err)
		}
	}
	legacy := e.otherStore("alice@ops-laptop", store.ChannelCLI)
	m, err := legacy.PutSecret(ctx, store.PutSecretInput{Project: "support-bot", Name: "LEGACY_WEBHOOK", Value: []byte("https://hooks.example.com/old"),
		Description: "the escalation hook before ESCALATION_WEBHOOK", ExpectedRevision: store.MustNotExist})
	if err != nil {
		t.Fatal(err)
	}
	if err := legacy.DeleteSecret(ctx, "support-bot", "LEGACY_WEBHOOK", m.Revision); err != nil {
		t.Fatal(err)
	}
	tb := e.openTab()

	tb.open("/signin")
	tb.screenshot("signin", "main#signin")

	tb.signIn("admin@example.com")
	tb.open("/secrets?project=support-bot")
	if tb.count("#restart-notice") != 1 || tb.count(".badge.terraform") == 0 || tb.count("details#unset") != 1 || tb.count("details#deleted") != 1 {
		t.Fatalf("the secrets page lacks what its picture shows:\n%s", tb.where())
	}
	tb.screenshot("secrets", "main#secrets")

	tb.click("tr#secret-ANTHROPIC_API_KEY a.history")
	if tb.count("tr#revision-3.current") != 1 || tb.count("form.rollback") != 2 || tb.count("#terraform-warning") != 1 {
		t.Fatalf("the history page lacks what its picture shows:\n%s", tb.where())
	}
	tb.screenshot("history", "main#history")

	tb.click("#tab-models")
	if tb.count("#missing-OPENAI_API_KEY") != 1 || tb.value("#chat_model") != "claude-sonnet-4-5" {
		t.Fatalf("the providers page lacks what its picture shows:\n%s", tb.where())
	}
	tb.screenshot("models", "main#models")

	tb.click("#tab-audit")
	tb.choose("#filter-project", "")
	tb.click("form#audit-filter button")
	if tb.count("table#audit-events tr[data-seq]") < len(sampleSecrets) {
		t.Fatalf("the audit page lacks what its picture shows:\n%s", tb.where())
	}
	tb.screenshot("audit", "main#audit")
}

// screenshot takes the viewport's picture, as docs/images/dashboard-NAME.png
// when PGSECRETS_UPDATE_SCREENSHOTS=1, after checking that the page is the
// one meant (main) and shows no sample value.
func (tb *tab) screenshot(name, main string) {
	tb.t.Helper()
	if tb.count(main) != 1 {
		tb.t.Fatalf("screenshot %s: not on %s\n%s", name, main, tb.where())
	}
	body := tb.body()
	for _, s := range sampleSecrets {
		if strings.Contains(body, s.value) {
			tb.t.Fatalf("screenshot %s: the page shows the value of %s", name, s.name)
		}
	}
	ctx, cancel := tb.step()
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if size := img.Bounds().Size(); size.X != viewportWidth || size.Y != viewportHeight {
		tb.t.Errorf("screenshot %s is %v, want %dx%d", name, size, viewportWidth, viewportHeight)
	}
	if len(b) > maxScreenshotBytes {
		tb.t.Errorf("screenshot %s is %d KiB, more than %d", name, len(b)>>10, maxScreenshotBytes>>10)
	}
	if os.Getenv(screenshotsEnv) != "1" {
		return
	}
	file := filepath.Join(screenshotsDir, "dashboard-"+name+".png")
	if err := os.MkdirAll(screenshotsDir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("wrote %s (%d KiB)", file, len(b)>>10)
}
