package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// The credentials applications hold (the runtime role) try to turn a
// viewer's dashboard session into an admin's, keep it for ten years, plant
// one, or read password hashes for cracking: PostgreSQL refuses each. A
// writer who may change the sessions table but holds no root key (here the
// owner's SQL) gets a session the dashboard no longer accepts: the reveal
// fails, and nothing is read in the admin's name.
func TestRuntimeRoleCannotTurnASessionIntoAnAdmins(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.put("app", "K", "the value")
	e.account("admin@example.com", store.RoleAdmin)
	viewer := e.signedIn("viewer@example.com", store.RoleViewer)
	want(t, viewer.get("/secrets"), http.StatusOK)
	want(t, viewer.post("/secrets/app/K/reveal", nil), http.StatusForbidden)

	runtimeURL := storetest.RoleURL(t, e.dbURL, e.db, store.DefaultSchema, store.GrantRuntime)
	runtime, err := pgx.Connect(ctx, runtimeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.Close(ctx)
	adminID, viewerID := e.query("select id from dashboard_accounts where email = 'admin@example.com'"), e.query("select id from dashboard_accounts where email = 'viewer@example.com'")
	for _, sql := range []string{
		"update pgsecrets.dashboard_sessions set account_id = " + adminID + " where account_id = " + viewerID,
		"update pgsecrets.dashboard_sessions set expires_at = now() + interval '10 years', idle_timeout = interval '10 years'",
		"update pgsecrets.dashboard_sessions set last_seen_at = now() + interval '10 years'",
		"select password_hash from pgsecrets.dashboard_accounts",
		"select token_hash, seal from pgsecrets.dashboard_sessions",
		"insert into pgsecrets.dashboard_sessions (token_hash, account_id, idle_timeout, expires_at, seal) values (decode(repeat('00', 32), 'hex'), " + adminID + ", '1 hour', now() + interval '1 hour', decode(repeat('00', 32), 'hex'))",
		"delete from pgsecrets.dashboard_sessions",
		"update pgsecrets.dashboard_accounts set role = 'admin'",
		"update pgsecrets.dashboard_accounts set disabled = true",
		"delete from pgsecrets.dashboard_signin_failures",
		"update pgsecrets.secret_counts set secrets = 0",
	} {
		if _, err := runtime.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("runtime role: %s: %v, want permission denied", sql, err)
		}
	}

	// Whoever can write the table anyway, without a root key, breaks the
	// session's seal: re-pointed, the viewer's cookie signs nobody in.
	if _, err := e.db.Exec(ctx, "update dashboard_sessions set account_id = $1 where account_id = $2", adminID, viewerID); err != nil {
		t.Fatal(err)
	}
	r := viewer.post("/secrets/app/K/reveal", nil)
	if r.status == http.StatusOK || strings.Contains(r.body, "the value") {
		t.Fatalf("re-pointed session revealed the value: %d", r.status)
	}
	if n := e.query("select count(*) from audit_events where actor = 'dashboard:admin@example.com'"); n != "0" {
		t.Fatalf("%s audit events in the admin's name", n)
	}
	// Extended by ten years, a session ends the same way.
	other := e.signedIn("viewer2@example.com", store.RoleViewer)
	if _, err := e.db.Exec(ctx, "update dashboard_sessions set expires_at = expires_at + interval '10 years' where account_id = (select id from dashboard_accounts where email = 'viewer2@example.com')"); err != nil {
		t.Fatal(err)
	}
	if r := other.get("/secrets"); r.status == http.StatusOK {
		t.Fatalf("a session extended by SQL is still accepted")
	}
}

// The dashboard's own role signs people in, keeps their sessions and
// disables accounts, but cannot change an account's role or password, or
// a session's account or terms.
func TestDashboardRoleKeepsSessionsButCannotChangeAccounts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.account("admin@example.com", store.RoleAdmin)
	dashURL := storetest.RoleURL(t, e.dbURL, e.db, store.DefaultSchema, store.GrantDashboard)
	st, err := store.Open(ctx, store.Config{DatabaseURL: dashURL, Actor: "dashboard", Channel: store.ChannelDashboard}, e.ring)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckDashboardRole(ctx); err != nil {
		t.Fatalf("the dashboard role's rights: %v", err)
	}
	srv, err := New(Config{Store: st, Logger: e.srv.log, SignInLimits: e.limits})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.put("app", "K", "v")
	admin := e.browser()
	if r := admin.signIn("admin@example.com", testPassword); r.status != http.StatusSeeOther {
		t.Fatalf("sign in through the dashboard role: %d\n%s", r.status, r.body)
	}
	want(t, admin.post("/secrets/app/K/reveal", nil), http.StatusOK, ">v<")
	// History, rollback, delete and undelete need nothing more.
	e.put("app", "K", "v2")
	want(t, admin.get("/secrets/app/K/history"), http.StatusOK, `<tr id="revision-2" class="current">`)
	want(t, admin.post("/secrets/app/K/rollback", url.Values{"to_revision": {"1"}, "expected_revision": {"2"}}), http.StatusSeeOther)
	want(t, admin.post("/secrets/app/K/delete", url.Values{"revision": {"3"}}), http.StatusSeeOther)
	want(t, admin.get("/secrets?project=app"), http.StatusOK, `id="deleted-K"`)
	want(t, admin.post("/secrets/app/K/undelete", nil), http.StatusSeeOther)
	// So does the Keys tab: project keys, the store's scheme, root keys.
	want(t, admin.get("/keys"), http.StatusOK, `<tr id="project-key-`+e.projectKID("app")+`">`, `data-scheme="project"`, `<tr id="key-root-1">`)
	want(t, admin.post("/secrets/app/K/reveal", nil), http.StatusOK, ">v<")
	e.account("other@example.com", store.RoleViewer)
	if _, err := st.SetAccountDisabled(ctx, "other@example.com", true); err != nil {
		t.Fatalf("disable an account as the dashboard role: %v", err)
	}
	for _, sql := range []string{
		"update pgsecrets.dashboard_accounts set role = 'admin'",
		"update pgsecrets.dashboard_accounts set password_hash = '$argon2id$x'",
		"update pgsecrets.dashboard_accounts set projects = '{}'",
		"insert into pgsecrets.dashboard_accounts (email, role, password_hash, created_by, updated_by) values ('m@example.com', 'admin', '$argon2id$x', 'm', 'm')",
		"update pgsecrets.dashboard_sessions set account_id = 1",
		"update pgsecrets.dashboard_sessions set expires_at = now() + interval '10 years'",
		"update pgsecrets.dashboard_sessions set seal = seal",
		"update pgsecrets.secret_counts set secrets = 0",
		"insert into pgsecrets.secret_counts (project, secrets) values ('x', 5)",
		"delete from pgsecrets.secret_counts",
	} {
		if _, err := st.Pool().Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("dashboard role: %s: %v, want permission denied", sql, err)
		}
	}
	if _, err := st.CreateAccount(ctx, store.NewAccount{Email: "m@example.com", Role: store.RoleAdmin, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}); err == nil || !strings.Contains(err.Error(), "only the schema's owner") {
		t.Errorf("create an account as the dashboard role: %v", err)
	}
}

// `pgsecrets serve` run as the runtime role stops before listening, and
// says which grant it lacks.
func TestDashboardRefusesTheRuntimeRole(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	runtimeURL := storetest.RoleURL(t, e.dbURL, e.db, store.DefaultSchema, store.GrantRuntime)
	st, err := store.Open(ctx, store.Config{DatabaseURL: runtimeURL}, e.ring)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.CheckDashboardRole(ctx)
	role, _ := url.Parse(runtimeURL)
	if err == nil || !strings.Contains(err.Error(), "--grant-dashboard") || !strings.Contains(err.Error(), role.User.Username()) {
		t.Fatalf("check as the runtime role: %v", err)
	}
}
