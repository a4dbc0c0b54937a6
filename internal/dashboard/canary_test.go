package dashboard

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// TestSecretValueAppearsOnlyInTheAdminReveal drives every page and action,
// failing ones included, with a random value, and looks for it in every
// response but the reveal, in the server's log, and in the audit trail.
func TestSecretValueAppearsOnlyInTheAdminReveal(t *testing.T) {
	canary := "canary-" + rand.Text()
	e := newEnv(t)
	editor := e.signedIn("ed@example.com", store.RoleEditor)
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	viewer := e.signedIn("v@example.com", store.RoleViewer)

	var responses []response
	keep := func(r response) response { responses = append(responses, r); return r }
	save := func(b *browser, form url.Values) response { return keep(b.post("/secrets/app", form)) }

	save(editor, url.Values{"name": {"TOKEN"}, "value": {canary}, "revision": {"0"}, "description": {"d"}})
	save(editor, url.Values{"name": {"TOKEN"}, "value": {canary + "-2"}, "revision": {"1"}})
	save(editor, url.Values{"name": {"TOKEN"}, "value": {canary + "-stale"}, "revision": {"1"}})          // conflict
	save(editor, url.Values{"name": {"TOKEN"}, "value": {canary + "-exists"}, "revision": {"0"}})         // created meanwhile
	save(editor, url.Values{"name": {"SLACK_BOT_TOKEN"}, "value": {"xoxp-" + canary}, "revision": {"0"}}) // wrong shape
	save(editor, url.Values{"name": {"ANTHROPIC_API_KEY"}, "value": {" sk-ant-" + canary}, "revision": {"0"}})
	save(editor, url.Values{"name": {"bad name!"}, "value": {canary}, "revision": {"0"}})
	save(editor, url.Values{"name": {"TOKEN"}, "value": {canary}})                    // no revision
	save(viewer, url.Values{"name": {"TOKEN"}, "value": {canary}, "revision": {"2"}}) // forbidden
	keep(e.browser().post("/secrets/app", url.Values{"name": {"TOKEN"}, "value": {canary}, "revision": {"2"}}))
	cross := e.browser()
	cross.cookie = editor.cookie
	cross.header.Set("Sec-Fetch-Site", "cross-site")
	keep(cross.post("/secrets/app", url.Values{"name": {"TOKEN"}, "value": {canary}, "revision": {"2"}}))
	keep(e.browser().signIn("ed@example.com", canary)) // a value typed as a password
	keep(e.browser().signIn(canary, canary))           // or as an email

	// History: a rollback, a delete and an undelete, then every page that
	// lists revisions or deleted secrets.
	want(t, keep(editor.post("/secrets/app/TOKEN/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"2"}})), http.StatusSeeOther)
	want(t, keep(editor.post("/secrets/app/TOKEN/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"2"}})), http.StatusConflict) // stale
	keep(admin.post("/secrets/app", url.Values{"name": {"OLD"}, "value": {canary + "-old"}, "revision": {"0"}}))
	keep(admin.post("/secrets/app/OLD/delete", url.Values{"revision": {"1"}}))
	for _, b := range []*browser{viewer, editor, admin} {
		want(t, keep(b.get("/secrets/app/OLD/history")), http.StatusOK, "OLD is deleted.")
		want(t, keep(b.get("/secrets?project=app&q=old")), http.StatusOK, `id="deleted-OLD"`)
	}
	want(t, keep(editor.post("/secrets/app/OLD/undelete", nil)), http.StatusSeeOther)
	want(t, keep(editor.post("/secrets/app/OLD/undelete", nil)), http.StatusConflict) // exists now
	want(t, keep(editor.post("/secrets/app/TOKEN/rollback", url.Values{"to_revision": {"2"}, "expected_revision": {"3"}})), http.StatusSeeOther)

	for _, b := range []*browser{viewer, editor, admin} {
		for _, path := range []string{"/secrets", "/secrets?project=app", "/secrets/app/TOKEN/edit", "/secrets/app/new",
			"/secrets/app/TOKEN/delete", "/secrets/app/TOKEN/history", "/secrets/app/OLD/history", "/secrets?project=app&q=TOKEN",
			"/models?project=app", "/audit", "/audit?project=app", "/audit/verify", "/keys", "/accounts"} {
			keep(b.get(path))
		}
		keep(b.post("/audit/export", url.Values{"format": {"jsonl"}}))
		keep(b.post("/audit/export", url.Values{"format": {"csv"}}))
	}
	keep(viewer.post("/secrets/app/TOKEN/reveal", nil))
	keep(editor.post("/secrets/app/TOKEN/reveal", nil))

	reveal := admin.post("/secrets/app/TOKEN/reveal", nil)
	// Rolled back to revision 1's value, then to revision 2's.
	want(t, reveal, http.StatusOK, `<pre id="secret-value" class="value">`+canary+`-2</pre>`)

	for i, r := range responses {
		if strings.Contains(r.body, "canary-") {
			t.Errorf("response %d (status %d) holds the value:\n%s", i, r.status, r.body)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "canary-") || !strings.Contains(logs, "path=/secrets/app") {
		t.Errorf("the log holds the value, or nothing was logged:\n%s", logs)
	}
	all := e.query(`select string_agg(concat_ws(' ', actor, action, project, subject, details), E'\n' order by seq) from audit_events`)
	if strings.Contains(all, "canary-") {
		t.Errorf("the audit trail holds the value:\n%s", all)
	}
	if !strings.Contains(all, "secret.read app TOKEN") {
		t.Errorf("the reveal was not audited:\n%s", all)
	}
	for _, table := range []string{"secrets", "secret_versions", "dashboard_accounts", "dashboard_sessions", "dashboard_signin_failures"} {
		if got := e.query("select count(*) from " + table + " t where t::text like '%canary-%'"); got != "0" {
			t.Errorf("table %s holds the value in clear", table)
		}
	}
}
