package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// action is one thing a person can do in the dashboard.
type action struct {
	name   string
	method string
	path   string
	form   url.Values
}

// actions lists every page and action, on project "app" (secret K exists,
// SLACK_BOT_TOKEN changed so a restart is pending, R has two revisions,
// GONE was deleted) or across projects.
func actions() []action {
	return []action{
		{"see secrets", "GET", "/secrets?project=app", nil},
		{"open add form", "GET", "/secrets/app/new", nil},
		{"open change form", "GET", "/secrets/app/K/edit", nil},
		{"add secret", "POST", "/secrets/app", url.Values{"name": {"NEW"}, "value": {"new value"}, "revision": {"0"}}},
		{"change secret", "POST", "/secrets/app", url.Values{"name": {"K"}, "value": {"changed"}, "revision": {"1"}}},
		{"reveal secret", "POST", "/secrets/app/K/reveal", nil},
		{"open delete confirmation", "GET", "/secrets/app/K/delete", nil},
		{"delete secret", "POST", "/secrets/app/K/delete", url.Values{"revision": {"1"}}},
		{"see history", "GET", "/secrets/app/K/history", nil},
		{"roll back secret", "POST", "/secrets/app/R/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"2"}}},
		{"undelete secret", "POST", "/secrets/app/GONE/undelete", nil},
		{"ack restart", "POST", "/restarts/app/ack", nil},
		{"see model defaults", "GET", "/models?project=app", nil},
		{"set model defaults", "POST", "/models/app", url.Values{"chat_provider": {"anthropic"}, "chat_model": {"claude-sonnet-4-5"}}},
		{"see audit", "GET", "/audit?project=app", nil},
		{"download audit", "POST", "/audit/export", url.Values{"format": {"csv"}, "project": {"app"}}},
		{"verify audit", "GET", "/audit/verify", nil},
		{"see keys", "GET", "/keys", nil},
		{"see accounts", "GET", "/accounts", nil},
		{"disable account", "POST", "/accounts/disable", url.Values{"email": {"target@example.com"}}},
		{"sign out account", "POST", "/accounts/signout", url.Values{"email": {"target@example.com"}}},
	}
}

// TestEachRoleMayDoExactlyWhatItsRoleAllows runs every action as every
// role, each on a fresh database: an allowed one succeeds, a forbidden one
// is a 403 that says why and changes nothing.
func TestEachRoleMayDoExactlyWhatItsRoleAllows(t *testing.T) {
	allowed := map[string][]string{
		store.RoleViewer: {"see secrets", "see history", "see model defaults", "see audit", "download audit", "see keys"},
		store.RoleEditor: {"see secrets", "see history", "see model defaults", "see audit", "download audit", "see keys",
			"open add form", "open change form", "add secret", "change secret", "ack restart", "roll back secret", "undelete secret"},
		store.RoleAdmin: nil, // everything
		"limited admin": {"see secrets", "see history", "see model defaults", "see audit", "download audit", "verify audit", "see keys",
			"open add form", "open change form", "add secret", "change secret", "ack restart", "roll back secret", "undelete secret",
			"reveal secret", "open delete confirmation", "delete secret", "set model defaults"},
	}
	for _, role := range []string{store.RoleViewer, store.RoleEditor, store.RoleAdmin, "limited admin"} {
		for _, a := range actions() {
			t.Run(strings.ReplaceAll(role+" "+a.name, " ", "_"), func(t *testing.T) {
				e := newEnv(t)
				e.put("app", "K", "v")
				e.put("app", "SLACK_BOT_TOKEN", "xoxb-1-2")
				e.put("app", "R", "r1")
				e.put("app", "R", "r2")
				e.deleted("app", "GONE", "g")
				e.account("target@example.com", store.RoleViewer)
				var b *browser
				if role == "limited admin" {
					b = e.signedIn("who@example.com", store.RoleAdmin, "app")
				} else {
					b = e.signedIn("who@example.com", role)
				}
				may := allowed[role] == nil
				for _, n := range allowed[role] {
					may = may || n == a.name
				}
				before := e.snapshot()
				r := b.do(a.method, a.path, strings.NewReader(a.form.Encode()), "application/x-www-form-urlencoded")
				if !may {
					want(t, r, http.StatusForbidden, "Cannot ")
					if e.snapshot() != before {
						t.Fatalf("a forbidden %s changed something", a.name)
					}
					return
				}
				if r.status != http.StatusOK && r.status != http.StatusSeeOther {
					t.Fatalf("%s as %s: %d\n%s", a.name, role, r.status, r.body)
				}
			})
		}
	}
}

func TestForbiddenMessagesSayWhatRoleIsNeeded(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	e.put("billing", "K", "v")
	viewer := e.signedIn("v@example.com", store.RoleViewer)
	want(t, viewer.post("/secrets/app/K/reveal", nil), http.StatusForbidden,
		"Cannot reveal secrets: ensure you are signed in as an admin (v@example.com is a viewer).")
	want(t, viewer.post("/secrets/app", url.Values{"name": {"X"}, "value": {"v"}, "revision": {"0"}}), http.StatusForbidden,
		"Cannot add or change secrets: ensure you are signed in as an editor or admin")

	limited := e.signedIn("l@example.com", store.RoleAdmin, "app")
	want(t, limited.get("/secrets?project=billing"), http.StatusForbidden, "Cannot see secrets in project billing: your account is limited to app.")
	want(t, limited.post("/secrets/billing/K/reveal", nil), http.StatusForbidden, "Cannot reveal secrets in project billing")
	want(t, limited.get("/secrets/billing/K/history"), http.StatusForbidden, "Cannot see secrets in project billing")
	want(t, limited.post("/secrets/billing/K/undelete", nil), http.StatusForbidden, "Cannot roll back or undelete secrets in project billing")
	want(t, viewer.post("/secrets/app/K/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"2"}}), http.StatusForbidden,
		"Cannot roll back or undelete secrets: ensure you are signed in as an editor or admin (v@example.com is a viewer).")
	want(t, limited.get("/keys?project=billing"), http.StatusForbidden, "Cannot see keys in project billing: your account is limited to app.")
	want(t, limited.get("/accounts"), http.StatusForbidden, "Cannot manage accounts: this page spans every project")

	// The limited account sees its projects only, and its own audit.
	r := limited.get("/secrets")
	want(t, r, http.StatusOK, `<option selected>app</option>`)
	if strings.Contains(r.body, "billing") {
		t.Fatalf("a limited account sees another project:\n%s", r.body)
	}
	r = limited.get("/audit")
	want(t, r, http.StatusOK, `<td>app</td>`)
	if strings.Contains(r.body, "<td>billing</td>") {
		t.Fatal("a limited account sees another project's audit events")
	}
	want(t, limited.get("/audit?project=billing"), http.StatusForbidden)
	download := limited.post("/audit/export", url.Values{"format": {"jsonl"}})
	if download.status != http.StatusOK || strings.Contains(download.body, `"project":"billing"`) || !strings.Contains(download.body, `"project":"app"`) {
		t.Fatalf("a limited account's download:\n%s", download.body)
	}
	// Without the right, the buttons are not offered either.
	r = viewer.get("/secrets?project=app")
	for _, hidden := range []string{`class="reveal"`, `class="delete`, `id="add-secret"`, `class="change"`, `class="undelete"`} {
		if strings.Contains(r.body, hidden) {
			t.Errorf("a viewer is offered %s", hidden)
		}
	}
	if _, err := e.st.GetSecretMeta(context.Background(), "app", "X"); err == nil {
		t.Fatal("a viewer added a secret")
	}
}
