package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestSecretsPageGroupsByCategoryWithUnsetSlotsCollapsedAndBadges(t *testing.T) {
	e := newEnv(t)
	e.put("app", "SLACK_BOT_TOKEN", "xoxb-1-2")
	e.put("app", "ZZ_CUSTOM", "v")
	tf := e.otherStore("ci-deploy", store.ChannelTerraform)
	if _, err := tf.PutSecret(context.Background(), store.PutSecretInput{Project: "app", Name: "STRIPE_KEY", Value: []byte("sk"), Category: "payments", Description: "Stripe live key"}); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn("ed@example.com", store.RoleEditor)
	r := b.get("/secrets")
	want(t, r, http.StatusOK,
		`<main id="secrets">`, `id="category-slack"`, `id="category-payments"`, `id="category-other"`,
		`<details id="unset" class="collapsed">`, `well-known names not set</summary>`, `id="unset-ai"`,
		`<tr id="secret-SLACK_BOT_TOKEN" class="secret">`, `<span class="badge restart"`,
		`<tr id="secret-STRIPE_KEY" class="secret">`, `<span class="badge terraform"`, `Stripe live key`, `ci-deploy`,
		`<tr id="slot-ANTHROPIC_API_KEY" class="slot">`, `Expected: a token starting with &#34;sk-ant-&#34;`,
		`href="/secrets/app/ANTHROPIC_API_KEY/edit"`, `id="add-secret"`, `id="restart-notice"`)
	if strings.Contains(r.body, `id="slot-SLACK_BOT_TOKEN"`) {
		t.Error("a set secret is also shown as an empty slot")
	}
	if strings.Index(r.body, `id="category-slack"`) > strings.Index(r.body, `id="category-other"`) ||
		strings.Index(r.body, `id="unset"`) > strings.Index(r.body, `id="secrets-table"`) {
		t.Error("uncategorised secrets are not last, or the unset slots' line is not above the secrets")
	}
	if strings.Contains(r.body, `id="category-ai"`) {
		t.Error("a category with nothing set has a section of its own")
	}
	if n := strings.Count(r.body, `<span class="badge terraform"`); n != 1 {
		t.Errorf("%d Terraform badges, want 1", n)
	}
	want(t, b.get("/secrets/app/STRIPE_KEY/edit"), http.StatusOK, `id="terraform-warning"`, "shows as drift")
	want(t, b.get("/secrets?project=nothing-here"), http.StatusOK, `<option selected>nothing-here</option>`)
}

func TestSaveSecretThroughTheWritePolicy(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("ed@example.com", store.RoleEditor)
	want(t, b.get("/secrets/app/SLACK_BOT_TOKEN/edit"), http.StatusOK, `id="secret-form"`, `name="value"`, `type="password"`,
		`Slack bot user OAuth token`, `value="slack"`, `id="requires_restart" name="requires_restart" value="on" checked`)

	// A value of the wrong shape: the CLI's message, nothing written, the
	// value not sent back.
	r := b.post("/secrets/app", url.Values{"name": {"SLACK_BOT_TOKEN"}, "value": {"xoxp-user-token-here"}, "revision": {"0"}, "category": {"slack"}, "requires_restart": {"on"}})
	want(t, r, http.StatusUnprocessableEntity, `the value of SLACK_BOT_TOKEN does not look like a token starting with &#34;xoxb-&#34;; nothing was written; check the value.`)
	if strings.Contains(r.body, "xoxp-user-token-here") {
		t.Fatal("the refused value was sent back")
	}
	if _, err := e.st.GetSecretMeta(context.Background(), "app", "SLACK_BOT_TOKEN"); err == nil {
		t.Fatal("a refused value was written")
	}

	r = b.post("/secrets/app", url.Values{"name": {"SLACK_BOT_TOKEN"}, "value": {"xoxb-good-token"}, "revision": {"0"}, "description": {"bot"}, "category": {"slack"}, "requires_restart": {"on"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/secrets?done=saved&name=SLACK_BOT_TOKEN&project=app&revision=1" {
		t.Fatalf("save: %d %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
	want(t, b.get(r.header.Get("Location")), http.StatusOK, `id="notice"`, "Saved SLACK_BOT_TOKEN (revision 1).")
	m, err := e.st.GetSecretMeta(context.Background(), "app", "SLACK_BOT_TOKEN")
	if err != nil || m.UpdatedBy != "dashboard:ed@example.com" || m.UpdatedVia != store.ChannelDashboard || !m.RequiresRestart || m.Description != "bot" {
		t.Fatalf("written: %+v, %v", m, err)
	}
	sec, err := e.st.GetSecret(context.Background(), "app", "SLACK_BOT_TOKEN", "test")
	if err != nil || string(sec.Value) != "xoxb-good-token" {
		t.Fatalf("value: %v", err)
	}
	events, _ := e.st.AuditEvents(context.Background(), store.AuditFilter{Action: audit.ActionSecretCreate}, 0, 10)
	if len(events) != 1 || events[0].Actor != "dashboard:ed@example.com" {
		t.Fatalf("secret.create events: %+v", events)
	}

	// A change from a stale form loses to the write made meanwhile.
	e.put("app", "SLACK_BOT_TOKEN", "xoxb-someone-else") // revision 2
	before := e.snapshot()
	r = b.post("/secrets/app", url.Values{"name": {"SLACK_BOT_TOKEN"}, "value": {"xoxb-mine"}, "revision": {"1"}, "category": {"slack"}})
	want(t, r, http.StatusConflict, "SLACK_BOT_TOKEN was changed by someone else meanwhile (now revision 2, you edited revision 1); nothing was written.",
		`name="revision" value="2"`)
	if e.snapshot() != before {
		t.Fatal("a stale write changed something")
	}
	// So does an add of a name someone created meanwhile.
	want(t, b.post("/secrets/app", url.Values{"name": {"SLACK_BOT_TOKEN"}, "value": {"xoxb-mine"}, "revision": {"0"}}), http.StatusConflict,
		"SLACK_BOT_TOKEN was created by someone else meanwhile (revision 2)")

	want(t, b.post("/secrets/app", url.Values{"name": {"bad name"}, "value": {"v"}, "revision": {"0"}}), http.StatusUnprocessableEntity, "is not valid")
	want(t, b.post("/secrets/app", url.Values{"name": {"EMPTY"}, "value": {""}, "revision": {"0"}}), http.StatusUnprocessableEntity,
		html.EscapeString(upperFirst(store.ValidateValue("app", "EMPTY", "").Error())+"; nothing was written."), "type or paste it each time")
	want(t, b.post("/secrets/bad%20project", url.Values{"name": {"K"}, "value": {"v"}, "revision": {"0"}}), http.StatusNotFound, "no such project")
}

func TestSaveSecretFromAFile(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("ed@example.com", store.RoleEditor)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range map[string]string{"name": "TLS_KEY", "revision": "0", "value": ""} {
		_ = w.WriteField(k, v)
	}
	f, _ := w.CreateFormFile("value_file", "key.pem")
	_, _ = f.Write([]byte("-----BEGIN KEY-----\nabc\n-----END KEY-----\n"))
	_ = w.Close()
	r := b.do(http.MethodPost, "/secrets/app", &body, w.FormDataContentType())
	if r.status != http.StatusSeeOther {
		t.Fatalf("save from a file: %d\n%s", r.status, r.body)
	}
	sec, err := e.st.GetSecret(context.Background(), "app", "TLS_KEY", "test")
	if err != nil || string(sec.Value) != "-----BEGIN KEY-----\nabc\n-----END KEY-----" {
		t.Fatalf("value from a file: %q, %v", sec.Value, err)
	}
}

func TestRestartNoticeUntilMarkedRestarted(t *testing.T) {
	e := newEnv(t)
	e.put("app", "SLACK_BOT_TOKEN", "xoxb-1")
	e.put("app", "OPENAI_API_KEY", "sk-proj-1")
	viewer := e.signedIn("v@example.com", store.RoleViewer)
	r := viewer.get("/secrets?project=app")
	want(t, r, http.StatusOK, `id="restart-notice"`, "Restart pending for app", "<code>SLACK_BOT_TOKEN</code> revision 1", "No restart has been recorded yet")
	if strings.Contains(r.body, `id="ack-restart"`) || strings.Contains(r.body, "<code>OPENAI_API_KEY</code> revision") {
		t.Fatalf("a viewer is offered the button, or a restart-free secret is listed:\n%s", r.body)
	}
	want(t, viewer.post("/restarts/app/ack", nil), http.StatusForbidden, "Cannot mark an application restarted")

	editor := e.signedIn("ed@example.com", store.RoleEditor)
	want(t, editor.get("/secrets?project=app"), http.StatusOK, `id="ack-restart"`)
	r = editor.post("/restarts/app/ack", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("ack: %d\n%s", r.status, r.body)
	}
	r = editor.get(r.header.Get("Location"))
	want(t, r, http.StatusOK, "Recorded the restart")
	if strings.Contains(r.body, `id="restart-notice"`) {
		t.Fatal("the notice outlived the ack")
	}
	if got := e.query("select actor || ' ' || project || ' ' || details from audit_events where action = 'restart.ack'"); got != `dashboard:ed@example.com app {"secrets":["SLACK_BOT_TOKEN"]}` {
		t.Fatalf("restart.ack event: %s", got)
	}
	e.put("app", "SLACK_BOT_TOKEN", "xoxb-2")
	want(t, editor.get("/secrets?project=app"), http.StatusOK, `id="restart-notice"`, "Since the last restart, recorded", "by dashboard:ed@example.com")
}

func TestRevealIsForAdminsAndAuditedAsARead(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "the value\nline two <b>")
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	list := admin.get("/secrets?project=app")
	want(t, list, http.StatusOK, `action="/secrets/app/K/reveal"`)
	if strings.Contains(list.body, "the value") {
		t.Fatal("the list page shows a value")
	}
	r := admin.post("/secrets/app/K/reveal", nil)
	want(t, r, http.StatusOK, `<pre id="secret-value" class="value">the value`+"\n"+`line two &lt;b&gt;</pre>`)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("a revealed value may be cached")
	}
	if got := e.query("select actor || ' ' || subject || ' ' || details from audit_events where action = 'secret.read'"); got != `dashboard:root@example.com K {"purpose":"dashboard","revision":1}` {
		t.Fatalf("secret.read event: %s", got)
	}
	// Only a form's POST reveals: not a link, not a prefetch.
	if r := admin.get("/secrets/app/K/reveal"); r.status != http.StatusNotFound || strings.Contains(r.body, "the value") {
		t.Fatalf("reveal by GET: %d", r.status)
	}
	want(t, admin.post("/secrets/app/MISSING/reveal", nil), http.StatusNotFound, `Secret &#34;app/MISSING&#34; not found.`)
}

func TestDeleteAsksForConfirmationAndComparesTheRevision(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	want(t, admin.get("/secrets/app/K/delete"), http.StatusOK, `id="confirm-delete"`, `id="delete-form"`, `name="revision" value="1"`,
		"an editor or admin can bring it back with Undelete", `href="/secrets/app/K/history"`)
	e.put("app", "K", "v2")
	before := e.snapshot()
	want(t, admin.post("/secrets/app/K/delete", url.Values{"revision": {"1"}}), http.StatusConflict, "now revision 2, you confirmed revision 1); nothing was deleted")
	if e.snapshot() != before {
		t.Fatal("a stale delete changed something")
	}
	r := admin.post("/secrets/app/K/delete", url.Values{"revision": {"2"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d\n%s", r.status, r.body)
	}
	want(t, admin.get(r.header.Get("Location")), http.StatusOK, "Deleted K.")
	if _, err := e.st.GetSecretMeta(context.Background(), "app", "K"); err == nil {
		t.Fatal("not deleted")
	}
	if got := e.query("select actor from audit_events where action = 'secret.delete'"); got != "dashboard:root@example.com" {
		t.Fatalf("secret.delete actor %s", got)
	}
}

// Saving reaches the store's limits and says what every writer says: an
// empty value and one over 1 MiB are refused with nothing written and the
// value never sent back; exactly 1 MiB is saved.
func TestSaveRefusesEmptyAndOversizedValuesAsEveryWriterDoes(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("ed@example.com", store.RoleEditor)
	before := e.snapshot()
	r := b.post("/secrets/app", url.Values{"name": {"BIG"}, "value": {strings.Repeat("x", 3<<20)}, "revision": {"0"}})
	want(t, r, http.StatusRequestEntityTooLarge, "a value is at most 1 MiB. Nothing was changed.")

	const canary = "canary-0b7d-oversized-"
	tooBig := strings.Repeat(canary, store.MaxValueBytes/len(canary)+1)[:store.MaxValueBytes+1]
	for _, value := range []string{"", tooBig} {
		r = b.post("/secrets/app", url.Values{"name": {"BIG"}, "value": {value}, "revision": {"0"}})
		want(t, r, http.StatusUnprocessableEntity, html.EscapeString(upperFirst(store.ValidateValue("app", "BIG", value).Error())+"; nothing was written."))
		if strings.Contains(r.body, "canary") {
			t.Fatal("the refused value was sent back")
		}
	}
	// The same from a file, whose one trailing newline is dropped first.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("name", "BIG")
	_ = w.WriteField("revision", "0")
	f, _ := w.CreateFormFile("value_file", "big.txt")
	_, _ = f.Write([]byte(tooBig + "\n"))
	_ = w.Close()
	r = b.do(http.MethodPost, "/secrets/app", &body, w.FormDataContentType())
	want(t, r, http.StatusUnprocessableEntity, html.EscapeString(upperFirst(store.ValidateValue("app", "BIG", tooBig).Error())))
	if e.snapshot() != before {
		t.Fatal("a refused value changed something")
	}

	r = b.post("/secrets/app", url.Values{"name": {"BIG"}, "value": {tooBig[:store.MaxValueBytes]}, "revision": {"0"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save of exactly 1 MiB: %d", r.status)
	}
	if sec, err := e.st.GetSecret(context.Background(), "app", "BIG", "test"); err != nil || len(sec.Value) != store.MaxValueBytes {
		t.Fatalf("saved %d bytes, %v; want 1 MiB", len(sec.Value), err)
	}
}

// An editor who saves BASH_ENV is told, on the page the save leads to,
// that the name changes how programs start and that `run` refuses it.
func TestSavingAStartupVariableNameWarns(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("ed@example.com", store.RoleEditor)
	r := b.post("/secrets/app", url.Values{"name": {"BASH_ENV"}, "value": {"$(id > pwned.txt)"}, "revision": {"0"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.status, r.body)
	}
	want(t, b.get(r.header.Get("Location")), http.StatusOK, `id="notice"`, "Saved BASH_ENV (revision 1). Warning: secret BASH_ENV is named like a variable that changes how programs start",
		"refuses to pass it unless given --allow-startup-var BASH_ENV")
	page := b.get("/secrets?done=saved&name=APP_TOKEN&project=app&revision=1")
	if strings.Contains(page.body, "Warning: secret") {
		t.Error("an ordinary name is saved with a warning")
	}
}

func TestSecretsPageFiltersByNameOrDescriptionAndPagesALongList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 150 {
		if _, err := e.st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("SERVICE_%03d_TOKEN", i), Value: []byte("v"), ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	e.put("app", "PAYMENTS", "v")
	if _, err := e.st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "PAYMENTS", Value: []byte("v2"), Description: "Stripe live key", ExpectedRevision: store.AnyRevision}); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn("v@example.com", store.RoleViewer)
	rows := func(r response) int { return strings.Count(r.body, `class="secret"`) }

	// Uncategorised, by name: PAYMENTS, then SERVICE_000 to SERVICE_149.
	r := b.get("/secrets?project=app")
	want(t, r, http.StatusOK, "Secrets 1–100 of 151.", `id="next-page" rel="next" href="/secrets?from=%2FSERVICE_099_TOKEN&amp;page=2&amp;project=app"`)
	if rows(r) != 100 || strings.Contains(r.body, `id="previous-page"`) {
		t.Errorf("the first page shows %d secrets, want 100, and no previous page", rows(r))
	}
	r = b.get("/secrets?from=%2FSERVICE_099_TOKEN&project=app")
	want(t, r, http.StatusOK, "Secrets 101–151 of 151.", `<tr id="secret-SERVICE_099_TOKEN"`, `id="previous-page" rel="prev" href="/secrets?project=app"`)
	if rows(r) != 51 || strings.Contains(r.body, `id="next-page"`) {
		t.Errorf("the last page shows %d secrets, want 51, and no next page", rows(r))
	}
	// Links by page number, made before pages started at a name, still
	// lead where they did.
	r = b.get("/secrets?project=app&page=2")
	want(t, r, http.StatusOK, "Secrets 101–151 of 151.", `<tr id="secret-SERVICE_099_TOKEN"`, `id="previous-page" rel="prev" href="/secrets?project=app"`)
	if rows(r) != 51 || strings.Contains(r.body, `id="next-page"`) {
		t.Errorf("page 2 by number shows %d secrets, want 51, and no next page", rows(r))
	}
	for _, past := range []string{"page=99", "from=%2FZZZ"} {
		if r = b.get("/secrets?project=app&" + past); rows(r) != 100 || !strings.Contains(r.body, "Secrets 1–100 of 151.") {
			t.Errorf("a page past the end (%s) shows %d secrets, want the first page's 100", past, rows(r))
		}
	}
	if r = b.get("/secrets?project=app&from=not-a-place"); rows(r) != 100 || !strings.Contains(r.body, "Secrets 1–100 of 151.") {
		t.Errorf("a page from no valid place shows %d secrets, want the first page's 100", rows(r))
	}
	// Bytes PostgreSQL cannot take as text, in any parameter, are the
	// link's fault, not the server's.
	for _, bad := range []string{"from=%FF%2FA", "from=%00%2FA", "q=%FF", "q=a%00b"} {
		want(t, b.get("/secrets?project=app&"+bad), http.StatusBadRequest, "is not text")
	}

	// The filter matches names and descriptions, in any case, and keeps
	// the catalog's slots that match.
	r = b.get("/secrets?project=app&q=stripe")
	want(t, r, http.StatusOK, `<tr id="secret-PAYMENTS" class="secret">`, `value="stripe"`, `id="clear-filter"`)
	if rows(r) != 1 || strings.Contains(r.body, `id="unset"`) || strings.Contains(r.body, `id="page-range"`) {
		t.Errorf("filtering by a description shows %d secrets, or slots, or pages:\n%s", rows(r), r.body)
	}
	r = b.get("/secrets?project=app&q=Service_14")
	if rows(r) != 10 {
		t.Errorf("filtering by a name's part shows %d secrets, want 10", rows(r))
	}
	r = b.get("/secrets?project=app&q=slack")
	want(t, r, http.StatusOK, `<details id="unset" class="collapsed" open>`, `id="slot-SLACK_BOT_TOKEN"`)
	if rows(r) != 0 || strings.Contains(r.body, `id="slot-ANTHROPIC_API_KEY"`) {
		t.Errorf("filtering the slots: %d secrets, or slots that do not match", rows(r))
	}
	want(t, b.get("/secrets?project=app&q=nothing-like-this"), http.StatusOK, `id="no-match"`, "No secret matches “nothing-like-this”.")
}

// TestSecretsPageLinksWalkEveryPageAfterChanges follows the Next links to
// the end and the Previous links back while secrets are added and deleted
// on the way: each page starts where its link says, its numbers and count
// are the list's as it is now, and no secret is skipped.
func TestSecretsPageLinksWalkEveryPageAfterChanges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 250 {
		category := ""
		if i%2 == 0 {
			category = "even"
		}
		if _, err := e.st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("S_%03d", i), Value: []byte("v"), Category: category, ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signedIn("v@example.com", store.RoleViewer)
	link := func(r response, id string) string {
		t.Helper()
		_, rest, ok := strings.Cut(r.body, `id="`+id+`" rel="`)
		if !ok {
			return ""
		}
		_, rest, _ = strings.Cut(rest, `href="`)
		href, _, _ := strings.Cut(rest, `"`)
		return strings.ReplaceAll(href, "&amp;", "&")
	}
	names := func(r response) []string {
		var out []string
		for _, part := range strings.Split(r.body, `<tr id="secret-`)[1:] {
			name, _, _ := strings.Cut(part, `"`)
			out = append(out, name)
		}
		return out
	}

	// even: S_000, S_002, ... S_248 (125), then uncategorised S_001 ... S_249.
	r := b.get("/secrets?project=app")
	want(t, r, http.StatusOK, "Secrets 1–100 of 250.")
	if got := names(r); len(got) != 100 || got[0] != "S_000" || got[99] != "S_198" {
		t.Fatalf("the first page: %v", got)
	}
	r = b.get(link(r, "next-page"))
	want(t, r, http.StatusOK, "Secrets 101–200 of 250.")
	if got := names(r); len(got) != 100 || got[0] != "S_200" || got[24] != "S_248" || got[25] != "S_001" || got[99] != "S_149" {
		t.Fatalf("the second page, across the categories: %v", got)
	}
	// Before the third page is opened, two secrets of the first go and
	// one comes: the third starts where the link says, numbered anew.
	for _, name := range []string{"S_010", "S_012"} {
		if err := e.st.DeleteSecret(ctx, "app", name, store.AnyRevision); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "S_000A", Value: []byte("v"), Category: "even", ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	third := link(r, "next-page")
	r = b.get(third)
	want(t, r, http.StatusOK, "Secrets 200–249 of 249.")
	if got := names(r); len(got) != 50 || got[0] != "S_151" || got[49] != "S_249" || link(r, "next-page") != "" {
		t.Fatalf("the last page after changes: %v", got)
	}
	// Back: a page's length before the page shown, then the first page.
	r = b.get(link(r, "previous-page"))
	want(t, r, http.StatusOK, "Secrets 100–199 of 249.")
	if got := names(r); len(got) != 100 || got[0] != "S_200" || got[99] != "S_149" {
		t.Fatalf("the page before the last: %v", got)
	}
	if prev := link(r, "previous-page"); prev != "/secrets?project=app" {
		t.Fatalf("the page before starts within a page of the first: %q, want the first page", prev)
	}

	// The last secret of a page gone, its Next link still leads on; a
	// filter carries along.
	r = b.get("/secrets?project=app&q=s_")
	want(t, r, http.StatusOK, "Secrets 1–100 of 249 matching “s_”.")
	next := link(r, "next-page")
	if !strings.Contains(next, "q=s_") {
		t.Fatalf("the next page of a filtered list loses the filter: %q", next)
	}
	first := names(b.get(next))[0]
	if err := e.st.DeleteSecret(ctx, "app", first, store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	r = b.get(next)
	want(t, r, http.StatusOK, "Secrets 101–200 of 248 matching “s_”.")
	if got := names(r); len(got) != 100 || slices.Contains(got, first) {
		t.Fatalf("the page after its first secret went: %v", got)
	}
}
