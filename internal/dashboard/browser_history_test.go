package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestBrowserRollBackAndUndelete(t *testing.T) {
	e := newEnv(t)
	e.put("app", "WEBHOOK_SECRET", "whsec-first")
	e.put("app", "WEBHOOK_SECRET", "whsec-second")
	e.deleted("app", "OLD_TOKEN", "tok-deleted")
	e.account("ed@example.com", store.RoleEditor)
	tb := e.openTab()
	tb.signIn("ed@example.com")

	tb.click("tr#secret-WEBHOOK_SECRET a.history")
	if tb.path() != "/secrets/app/WEBHOOK_SECRET/history" || !slices.Equal(tb.texts("table#revisions tbody td:first-child"), []string{"2", "1"}) {
		t.Fatalf("the history page:\n%s", tb.where())
	}
	if got := tb.text("tr#revision-1"); !strings.Contains(got, "cli-user") || !strings.Contains(got, e.projectKID("app")) || !strings.Contains(got, "create") {
		t.Errorf("revision 1 reads %q: want who wrote it, with which key (the project's), and how", got)
	}
	if status := tb.click("tr#revision-1 form.rollback button"); status != http.StatusOK {
		t.Fatalf("rollback: %d\n%s", status, tb.where())
	}
	if got := tb.text("#notice"); got != "Rolled back to the value of revision 1, now revision 3." {
		t.Errorf("after the rollback: %q", got)
	}
	if tb.count("tr#revision-3.current") != 1 || !strings.Contains(tb.text("tr#revision-3"), "rollback") {
		t.Errorf("the rollback is not the current revision:\n%s", tb.where())
	}
	sec, err := e.st.GetSecret(context.Background(), "app", "WEBHOOK_SECRET", "test")
	if err != nil || string(sec.Value) != "whsec-first" {
		t.Fatalf("after the rollback: %v", err)
	}

	// A deleted secret is found on the project's page, and brought back.
	tb.click("main#history > p:first-child a")
	if got := tb.text("details#deleted > summary"); got != "1 deleted secret can be brought back" {
		t.Errorf("the deleted secrets' line: %q", got)
	}
	tb.tick("details#deleted > summary")
	if status := tb.click("tr#deleted-OLD_TOKEN form.undelete button"); status != http.StatusOK {
		t.Fatalf("undelete: %d\n%s", status, tb.where())
	}
	if got := tb.text("#notice"); got != "Undeleted OLD_TOKEN (revision 2)." || tb.count("tr#secret-OLD_TOKEN") != 1 || tb.count("details#deleted") != 0 {
		t.Errorf("after the undelete, %q:\n%s", got, tb.where())
	}
	for _, v := range []string{"whsec-", "tok-deleted"} {
		if strings.Contains(tb.body(), v) || strings.Contains(e.logs.String(), v) {
			t.Fatal("a value is on the page or in the server's log")
		}
	}
}

func TestBrowserSecretsPageStaysReadable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("app", "ANTHROPIC_API_KEY", "sk-ant-api03-x")
	for _, s := range []store.PutSecretInput{
		{Name: "BILLING_WEBHOOK_SECRET", Description: "signs the payment provider's webhooks, so that forged ones are refused"},
		{Name: "REPORTS_DATABASE_URL", Description: "the read replica the nightly reports run against"},
	} {
		s.Project, s.Value, s.ExpectedRevision = "app", []byte("v"), store.AnyRevision
		if _, err := e.st.PutSecret(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		if _, err := e.st.PutSecret(ctx, store.PutSecretInput{Project: "big", Name: fmt.Sprintf("SERVICE_%04d_TOKEN", i), Value: []byte("v"), ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	e.account("v@example.com", store.RoleViewer)
	tb := e.openTab()
	tb.signIn("v@example.com")
	visible := func(sel string) int {
		return evalIn[int](tb, "Array.from(document.querySelectorAll("+jsString(sel)+")).filter(e => e.checkVisibility()).length")
	}

	// Three secrets are three rows; the catalog's names not set fold into
	// one line that opens.
	unset := len(catalog.All()) - 1
	if visible("tr.secret") != 3 || visible("tr.slot") != 0 {
		t.Fatalf("%d secrets and %d empty slots shown, want 3 and none:\n%s", visible("tr.secret"), visible("tr.slot"), tb.where())
	}
	if got, want := tb.text("details#unset > summary"), fmt.Sprintf("%d well-known names not set", unset); got != want {
		t.Errorf("the unset line reads %q, want %q", got, want)
	}
	tb.tick("details#unset > summary")
	if visible("tr.slot") != unset {
		t.Errorf("opened, the line shows %d slots, want %d", visible("tr.slot"), unset)
	}

	// Prose wraps between words; only names may break inside one.
	style := evalIn[[]string](tb, `(() => { const s = getComputedStyle(document.querySelector("tr#secret-BILLING_WEBHOOK_SECRET td:nth-child(2)")); return [s.wordBreak, s.overflowWrap]; })()`)
	if !slices.Equal(style, []string{"normal", "break-word"}) {
		t.Errorf("a description wraps with word-break, overflow-wrap %q", style)
	}

	// The filter narrows by name or description, with no script.
	tb.fill("#q", "webhook")
	tb.click("form#filter button")
	if tb.path() != "/secrets?project=app&q=webhook" || visible("tr.secret") != 1 || tb.count("tr#secret-BILLING_WEBHOOK_SECRET") != 1 {
		t.Errorf("filtered by %q:\n%s", "webhook", tb.where())
	}
	tb.fill("#q", "no such secret")
	tb.click("form#filter button")
	if visible("tr.secret") != 0 || tb.count("#no-match") != 1 {
		t.Errorf("a filter matching nothing:\n%s", tb.where())
	}
	tb.fill("#q", "read replica")
	tb.click("form#filter button")
	if visible("tr.secret") != 1 || tb.count("tr#secret-REPORTS_DATABASE_URL") != 1 {
		t.Errorf("filtered by a description's words:\n%s", tb.where())
	}

	// A thousand secrets come a hundred at a time.
	tb.open("/secrets?project=big")
	if visible("tr.secret") != 100 || tb.text("#page-range") != "Secrets 1–100 of 1000." {
		t.Fatalf("the first page of a thousand:\n%s", tb.where())
	}
	tb.click("#next-page")
	if visible("tr.secret") != 100 || tb.text("#page-range") != "Secrets 101–200 of 1000." || tb.count("tr#secret-SERVICE_0100_TOKEN") != 1 {
		t.Fatalf("the second page of a thousand:\n%s", tb.where())
	}
}

func TestBrowserAuditDetailsReadAsFields(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	e.account("root@example.com", store.RoleAdmin)
	tb := e.openTab()
	tb.signIn("root@example.com")
	tb.click("tr#secret-K form.reveal button")
	tb.open("/audit")
	row := "table#audit-events tr[data-seq]:first-child"
	if got := tb.text(row + " td:nth-child(4)"); got != "secret.read" {
		t.Fatalf("the newest event is %q:\n%s", got, tb.where())
	}
	if got := tb.texts(row + " dl.details > *"); !slices.Equal(got, []string{"purpose:", "dashboard", "revision:", "1"}) {
		t.Errorf("the details read %q, want fields", got)
	}
	if strings.Contains(tb.text(row), "{") {
		t.Errorf("the details are raw JSON: %q", tb.text(row))
	}
}
