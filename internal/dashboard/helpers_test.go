package dashboard

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/password"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// testPassword is every test account's password.
const testPassword = "correct horse battery staple"

// cheapHash keeps account creation fast; the format and checks are those
// of real hashes.
var cheapHash = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// env is a dashboard on a fresh database, with its log captured.
type env struct {
	t      *testing.T
	st     *store.Store
	db     *pgxpool.Pool // search_path pgsecrets, for looking at rows
	srv    *Server
	logs   *pgtest.LogBuffer
	ring   *keyring.Keyring
	dbURL  string
	limits store.SignInLimits
	// httpURL is the dashboard served over real HTTP, once a browser tab
	// needs it (openTab).
	httpURL string
}

type envOption func(*Config)

func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	db := pgtest.SchemaPool(t, dbURL, "pgsecrets")
	if _, err := store.Migrate(ctx, db, "pgsecrets", nil); err != nil {
		t.Fatal(err)
	}
	root, err := keyring.Generate("root-1", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New([]*keyring.Key{root})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL, Actor: "dashboard", Channel: store.ChannelDashboard}, ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	logs := &pgtest.LogBuffer{}
	cfg := Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SignInLimits: store.SignInLimits{Window: DefaultSignInLimits.Window, PerAccount: 5, PerAddress: 20},
	}
	for _, o := range options {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, db: db, srv: srv, logs: logs, ring: ring, dbURL: dbURL, limits: cfg.SignInLimits}
}

// otherStore opens the same database as another process would, e.g. the
// CLI or Terraform (channel).
func (e *env) otherStore(actor, channel string) *store.Store {
	e.t.Helper()
	st, err := store.Open(context.Background(), store.Config{DatabaseURL: e.dbURL, Actor: actor, Channel: channel}, e.ring)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(st.Close)
	return st
}

// account creates an account with testPassword.
func (e *env) account(email, role string, projects ...string) store.Account {
	e.t.Helper()
	hash, err := password.Hash(testPassword, cheapHash)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.st.CreateAccount(context.Background(), store.NewAccount{Email: email, Role: role, Projects: projects, PasswordHash: hash})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// put writes a secret as the CLI would.
func (e *env) put(project, name, value string) store.SecretMeta {
	e.t.Helper()
	m, err := e.st.WithActor("cli-user").PutSecret(context.Background(), store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// deleted writes a secret and deletes it, as the CLI would: it can be
// undeleted.
func (e *env) deleted(project, name, value string) {
	e.t.Helper()
	m := e.put(project, name, value)
	if err := e.st.WithActor("cli-user").DeleteSecret(context.Background(), project, name, m.Revision); err != nil {
		e.t.Fatal(err)
	}
}

// projectKID is the kid of project's primary key, which encrypts its
// new values.
func (e *env) projectKID(project string) string {
	e.t.Helper()
	k, err := e.st.GetProjectKey(context.Background(), project)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.KID
}

// query returns one value of a SQL query, as text.
func (e *env) query(sql string, args ...any) string {
	e.t.Helper()
	var s string
	if err := e.db.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// snapshot is everything a forbidden action must leave as it was.
func (e *env) snapshot() string {
	e.t.Helper()
	return e.query(`select concat_ws(E'\n',
		(select string_agg(concat_ws(' ', project, name, revision, description, category, requires_restart, updated_by), E'\n' order by project, name) from secrets),
		(select count(*) from secret_versions),
		(select string_agg(concat_ws(' ', project, use_case, provider, model), E'\n' order by project, use_case) from provider_defaults),
		(select string_agg(concat_ws(' ', project, acked_at, acked_by), E'\n' order by project) from restart_acks),
		(select string_agg(concat_ws(' ', email, role, disabled), E'\n' order by email) from dashboard_accounts),
		(select count(*) from dashboard_sessions),
		(select count(*) from audit_events))`)
}

// browser is one browser: its cookie, its address.
type browser struct {
	e      *env
	cookie *http.Cookie
	remote string
	tls    bool
	header http.Header
}

func (e *env) browser() *browser {
	return &browser{e: e, remote: "192.0.2.10:50000", header: http.Header{}}
}

// signedIn is a browser signed in as a new account.
func (e *env) signedIn(email, role string, projects ...string) *browser {
	e.t.Helper()
	e.account(email, role, projects...)
	b := e.browser()
	if r := b.signIn(email, testPassword); r.status != http.StatusSeeOther || b.cookie == nil {
		e.t.Fatalf("sign in as %s: %d\n%s", email, r.status, r.body)
	}
	return b
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, body io.Reader, contentType string) response {
	b.e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = b.remote
	if b.tls {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodPost && req.Header.Get("Sec-Fetch-Site") == "" && req.Header.Get("Origin") == "" {
		// What a browser sends for a form of the dashboard's own page.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", "http://example.com")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	rec := httptest.NewRecorder()
	b.e.srv.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			b.cookie = nil
		} else {
			b.cookie = c
		}
	}
	return response{status: res.StatusCode, header: res.Header, body: rec.Body.String()}
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	return b.do(http.MethodGet, path, nil, "")
}

func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	return b.do(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

func (b *browser) signIn(email, pw string) response {
	b.e.t.Helper()
	return b.post("/signin", url.Values{"email": {email}, "password": {pw}})
}

// want checks a response's status and that its body holds every fragment.
func want(t *testing.T, r response, status int, fragments ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d:\n%s", r.status, status, r.body)
	}
	for _, f := range fragments {
		if !strings.Contains(r.body, f) {
			t.Errorf("body lacks %q:\n%s", f, r.body)
		}
	}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
