package dashboard

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestBrowserAddASecret(t *testing.T) {
	e := newEnv(t)
	e.account("ed@example.com", store.RoleEditor)
	tb := e.openTab()
	tb.signIn("ed@example.com")

	// No project yet: open one, then add its first secret.
	if got := tb.text("#no-projects"); !strings.Contains(got, "open one above to add the first") {
		t.Fatalf("an empty dashboard says %q", got)
	}
	tb.fill("#new-project", "billing")
	tb.click("form#open-project button")
	tb.click("#add-secret")
	if tb.path() != "/secrets/billing/new" || tb.text("h1") != "Add a secret" {
		t.Fatalf("the add form:\n%s", tb.where())
	}
	value := "whk-" + rand.Text()
	tb.fill("#name", "PAYMENTS_WEBHOOK_SECRET")
	tb.fill("#value", value)
	tb.fill("#description", "signs the payment provider's webhooks")
	tb.fill("#category", "payments")
	tb.tick("#requires_restart")
	if status := tb.click("#save"); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, tb.where())
	}
	if got := tb.text("#notice"); got != "Saved PAYMENTS_WEBHOOK_SECRET (revision 1)." {
		t.Errorf("notice after saving: %q", got)
	}
	row := "tr#secret-PAYMENTS_WEBHOOK_SECRET.secret"
	if tb.text("h2#category-payments") != "payments" || tb.count(row+" .badge.restart") != 1 ||
		!strings.Contains(tb.text(row), "signs the payment provider's webhooks") || !strings.Contains(tb.text(row), "dashboard:ed@example.com") {
		t.Fatalf("the new secret's row:\n%s", tb.where())
	}
	if tb.count("#restart-notice") != 1 || !strings.Contains(tb.text("#restart-notice"), "PAYMENTS_WEBHOOK_SECRET revision 1") {
		t.Errorf("no restart notice for a restart-bound secret:\n%s", tb.where())
	}

	// A well-known name's empty slot: the catalog fills in the rest.
	tb.tick("details#unset > summary")
	tb.click("tr#slot-SLACK_BOT_TOKEN a.set")
	if tb.text("#name-fixed") != "SLACK_BOT_TOKEN" || tb.value("#category") != "slack" ||
		!strings.Contains(tb.text("#catalog-hint"), `Expected: a token starting with "xoxb-"`) {
		t.Fatalf("the slot's form:\n%s", tb.where())
	}
	tb.fill("#value", "xoxb-1111-2222-"+rand.Text())
	tb.click("#save")
	if tb.count("tr#secret-SLACK_BOT_TOKEN.secret") != 1 || tb.count("tr#slot-SLACK_BOT_TOKEN") != 0 {
		t.Fatalf("the filled slot:\n%s", tb.where())
	}

	sec, err := e.st.GetSecret(context.Background(), "billing", "PAYMENTS_WEBHOOK_SECRET", "test")
	if err != nil || string(sec.Value) != value || sec.UpdatedBy != "dashboard:ed@example.com" || !sec.RequiresRestart || sec.Category != "payments" {
		t.Fatalf("stored: %+v, %v", sec.SecretMeta, err)
	}
	if strings.Contains(tb.body(), value) || strings.Contains(e.logs.String(), value) {
		t.Fatal("the value is on the page or in the server's log")
	}
}

func TestBrowserWrongShapeValueIsRefusedWithTheCLIMessage(t *testing.T) {
	e := newEnv(t)
	e.put("app", "OPENAI_API_KEY", "sk-proj-1")
	e.account("ed@example.com", store.RoleEditor)
	tb := e.openTab()
	tb.signIn("ed@example.com")

	tb.tick("details#unset > summary")
	tb.click("tr#slot-ANTHROPIC_API_KEY a.set")
	const wrong = "sk-proj-an-openai-key-pasted-here"
	tb.fill("#value", wrong)
	if status := tb.click("#save"); status != http.StatusUnprocessableEntity {
		t.Fatalf("a wrong-shape value: status %d", status)
	}
	// The message `pgsecrets secret add` gives, then what to do here.
	shape := catalog.Validate("ANTHROPIC_API_KEY", wrong)
	if shape == nil {
		t.Fatal("the catalog takes the wrong value")
	}
	if got, want := tb.text("#form-error"), shape.Error()+"; nothing was written; check the value."; got != want {
		t.Errorf("the form says\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(tb.text("#form-error"), `the value of ANTHROPIC_API_KEY does not look like a token starting with "sk-ant-"`) {
		t.Errorf("the message does not say what is wrong: %q", tb.text("#form-error"))
	}
	if tb.value("#value") != "" || strings.Contains(tb.body(), wrong) {
		t.Error("the refused value was sent back")
	}
	if _, err := e.st.GetSecretMeta(context.Background(), "app", "ANTHROPIC_API_KEY"); err == nil {
		t.Fatal("a refused value was written")
	}
}

func TestBrowserConflictingSaveIsRefused(t *testing.T) {
	e := newEnv(t)
	e.put("app", "STRIPE_KEY", "sk_live_1")
	e.account("ed@example.com", store.RoleEditor)
	tb := e.openTab()
	tb.signIn("ed@example.com")
	tb.click("tr#secret-STRIPE_KEY a.change")
	if !strings.HasPrefix(tb.text("#current"), "Revision 1,") {
		t.Fatalf("the change form:\n%s", tb.where())
	}

	// Someone else writes while the form is open.
	if _, err := e.otherStore("bob@laptop", store.ChannelCLI).PutSecret(context.Background(), store.PutSecretInput{
		Project: "app", Name: "STRIPE_KEY", Value: []byte("sk_live_bob"), ExpectedRevision: 1}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	tb.fill("#value", "sk_live_mine")
	if status := tb.click("#save"); status != http.StatusConflict {
		t.Fatalf("a stale save: status %d", status)
	}
	if got := tb.text("#form-error"); got != "STRIPE_KEY was changed by someone else meanwhile (now revision 2, you edited revision 1); nothing was written. Review it and save again to replace it." {
		t.Errorf("conflict message: %q", got)
	}
	if e.snapshot() != before {
		t.Fatal("a stale save changed something")
	}
	// The form now shows the secret as it is, and saving again replaces it.
	if got := tb.text("#current"); !strings.HasPrefix(got, "Revision 2,") || !strings.Contains(got, "by bob@laptop") {
		t.Errorf("after the conflict the form shows %q", got)
	}
	tb.fill("#value", "sk_live_mine")
	tb.click("#save")
	if got := tb.text("#notice"); got != "Saved STRIPE_KEY (revision 3)." {
		t.Errorf("saving again: %q", got)
	}
	sec, err := e.st.GetSecret(context.Background(), "app", "STRIPE_KEY", "test")
	if err != nil || string(sec.Value) != "sk_live_mine" {
		t.Fatalf("after saving again: %v", err)
	}
}

func TestBrowserRevealIsForAdminsOnly(t *testing.T) {
	e := newEnv(t)
	value := "pw-" + rand.Text()
	e.put("app", "DATABASE_PASSWORD", value)
	e.account("root@example.com", store.RoleAdmin)
	e.account("ed@example.com", store.RoleEditor)

	admin := e.openTab()
	admin.signIn("root@example.com")
	if strings.Contains(admin.body(), value) {
		t.Fatal("the secrets page shows the value")
	}
	if status := admin.click("tr#secret-DATABASE_PASSWORD form.reveal button"); status != http.StatusOK {
		t.Fatalf("reveal: %d\n%s", status, admin.where())
	}
	if got := admin.text("main#reveal pre#secret-value"); got != value {
		t.Fatalf("revealed %q", got)
	}
	if got := e.query("select actor || ' ' || details from audit_events where action = 'secret.read'"); !strings.HasPrefix(got, "dashboard:root@example.com ") || !strings.Contains(got, `"purpose":"dashboard"`) {
		t.Errorf("the reveal's audit event: %s", got)
	}

	editor := e.openTab()
	editor.signIn("ed@example.com")
	row := "tr#secret-DATABASE_PASSWORD"
	if editor.count(row+" a.change") != 1 || editor.count(row+" form.reveal") != 0 || editor.count(row+" a.delete") != 0 {
		t.Fatalf("an editor's actions: %q", editor.text(row+" td.actions"))
	}
	before := e.snapshot()
	if status := editor.post("/secrets/app/DATABASE_PASSWORD/reveal"); status != http.StatusForbidden {
		t.Fatalf("an editor's reveal: status %d\n%s", status, editor.where())
	}
	if got := editor.text("#error-message"); got != "Cannot reveal secrets: ensure you are signed in as an admin (ed@example.com is an editor)." {
		t.Errorf("an editor's reveal says %q", got)
	}
	if strings.Contains(editor.body(), value) || e.snapshot() != before {
		t.Fatal("a refused reveal showed the value or was recorded as a read")
	}
	if strings.Contains(e.logs.String(), value) {
		t.Fatal("the server's log holds the value")
	}
}
