package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestHistoryListsRevisionsAndRollsBackThroughTheStore(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "first-value")
	e.put("app", "K", "second-value")
	e.put("app", "K", "third-value")
	viewer := e.signedIn("v@example.com", store.RoleViewer)
	editor := e.signedIn("ed@example.com", store.RoleEditor)

	r := viewer.get("/secrets/app/K/history")
	want(t, r, http.StatusOK, `<main id="history">`, `<tr id="revision-3" class="current">`, `<tr id="revision-2">`, `<tr id="revision-1">`,
		"cli-user", e.projectKID("app"), `<span class="badge current">current</span>`)
	if strings.Contains(r.body, `class="rollback"`) {
		t.Error("a viewer is offered a rollback")
	}
	want(t, viewer.get("/secrets/app/MISSING/history"), http.StatusNotFound, "not found")
	want(t, viewer.get("/secrets?project=app"), http.StatusOK, `href="/secrets/app/K/history"`)

	r = editor.get("/secrets/app/K/history")
	want(t, r, http.StatusOK, `action="/secrets/app/K/rollback"`, `name="to_revision" value="1"`, `name="expected_revision" value="3"`)
	if strings.Count(r.body, `class="rollback"`) != 2 {
		t.Errorf("rollback offered %d times, want for the 2 earlier revisions", strings.Count(r.body, `class="rollback"`))
	}
	r = editor.post("/secrets/app/K/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"3"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("rollback: %d\n%s", r.status, r.body)
	}
	want(t, editor.get(r.header.Get("Location")), http.StatusOK, "Rolled back to the value of revision 1, now revision 4.", `<tr id="revision-4" class="current">`)
	sec, err := e.st.GetSecret(context.Background(), "app", "K", "test")
	if err != nil || string(sec.Value) != "first-value" || sec.Revision != 4 || sec.UpdatedBy != "dashboard:ed@example.com" {
		t.Fatalf("after the rollback: %+v %v", sec.SecretMeta, err)
	}
	if got := e.query("select actor || ' ' || action || ' ' || subject || ' ' || details from audit_events where action like 'secret.%' and action <> 'secret.read' order by seq desc limit 1"); !strings.HasPrefix(got, "dashboard:ed@example.com secret.rollback K ") || !strings.Contains(got, `"from_revision":1`) {
		t.Errorf("the rollback's audit event: %s", got)
	}

	// A rollback from a page someone else's write made stale writes
	// nothing.
	before := e.snapshot()
	want(t, editor.post("/secrets/app/K/rollback", url.Values{"to_revision": {"2"}, "expected_revision": {"3"}}), http.StatusConflict,
		"K was changed by someone else meanwhile (now revision 4, you saw revision 3); nothing was written.")
	want(t, editor.post("/secrets/app/K/rollback", url.Values{"to_revision": {"4"}, "expected_revision": {"4"}}), http.StatusConflict, "already at revision 4")
	want(t, editor.post("/secrets/app/K/rollback", url.Values{"to_revision": {"99"}, "expected_revision": {"4"}}), http.StatusNotFound, "Revision 99 of secret")
	want(t, editor.post("/secrets/app/K/rollback", url.Values{"to_revision": {"x"}}), http.StatusBadRequest, "The form is incomplete")
	if e.snapshot() != before {
		t.Fatal("a refused rollback changed something")
	}
}

func TestDeletedSecretsAreListedAndUndeletedWithinTheirWindow(t *testing.T) {
	e := newEnv(t)
	e.put("app", "KEPT", "v")
	e.deleted("app", "GONE", "gone-value")
	e.deleted("app", "LONG_GONE", "old-value")
	// Deleted before the default 30-day window: no longer offered.
	e.query("update secret_versions set replaced_at = now() - interval '31 days' where name = 'LONG_GONE' returning 'ok'")
	viewer := e.signedIn("v@example.com", store.RoleViewer)
	editor := e.signedIn("ed@example.com", store.RoleEditor)

	r := viewer.get("/secrets?project=app")
	want(t, r, http.StatusOK, `<details id="deleted" class="collapsed">`, `1 deleted secret can be brought back</summary>`, `<tr id="deleted-GONE" class="deleted">`,
		`href="/secrets/app/GONE/history"`)
	if strings.Contains(r.body, "LONG_GONE") || strings.Contains(r.body, `class="undelete"`) {
		t.Errorf("a secret past its window is listed, or a viewer is offered Undelete:\n%s", r.body)
	}
	want(t, viewer.get("/secrets/app/GONE/history"), http.StatusOK, `id="deleted-notice"`, "GONE is deleted.", "Undelete brings back revision 1",
		`<span class="badge deleted">deleted`)
	want(t, editor.get("/secrets/app/LONG_GONE/history"), http.StatusOK, "Its undelete window has passed")
	// A page left open past the window: the store says why, not the
	// generic server error page.
	want(t, editor.post("/secrets/app/LONG_GONE/undelete", nil), http.StatusNotFound, "past the retention window for undelete")

	want(t, editor.get("/secrets?project=app"), http.StatusOK, `action="/secrets/app/GONE/undelete" class="undelete"`)
	want(t, editor.get("/secrets/app/GONE/history"), http.StatusOK, `<form method="post" action="/secrets/app/GONE/undelete" id="undelete"`)
	r = editor.post("/secrets/app/GONE/undelete", nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("undelete: %d\n%s", r.status, r.body)
	}
	r = editor.get(r.header.Get("Location"))
	want(t, r, http.StatusOK, "Undeleted GONE (revision 2).", `<tr id="secret-GONE" class="secret">`)
	if strings.Contains(r.body, `id="deleted"`) {
		t.Error("an undeleted secret is still listed as deleted")
	}
	sec, err := e.st.GetSecret(context.Background(), "app", "GONE", "test")
	if err != nil || string(sec.Value) != "gone-value" || sec.UpdatedBy != "dashboard:ed@example.com" {
		t.Fatalf("after the undelete: %+v %v", sec.SecretMeta, err)
	}
	if got := e.query("select actor || ' ' || action from audit_events where subject = 'GONE' and action <> 'secret.read' order by seq desc limit 1"); got != "dashboard:ed@example.com secret.undelete" {
		t.Errorf("the undelete's audit event: %s", got)
	}

	before := e.snapshot()
	want(t, editor.post("/secrets/app/GONE/undelete", nil), http.StatusConflict, "GONE exists")
	want(t, editor.post("/secrets/app/KEPT/undelete", nil), http.StatusConflict, "KEPT exists")
	want(t, editor.post("/secrets/app/NEVER/undelete", nil), http.StatusNotFound, "never deleted")
	if e.snapshot() != before {
		t.Fatal("a refused undelete changed something")
	}
}
