// Package dashboard is pgsecrets' web dashboard (`pgsecrets serve`):
// server-rendered HTML from embedded templates, usable without JavaScript,
// on the same store, write policy and audit trail as the CLI and
// Terraform. It keeps no state of its own: accounts, sessions and sign-in
// counters live in PostgreSQL, so any number of replicas can serve behind
// a load balancer.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Config configures a dashboard server.
type Config struct {
	// Store is opened with root keys: the dashboard writes, reveals and
	// appends audit events.
	Store *store.Store
	// Logger receives one line per request and every error; never a value,
	// a password or a token.
	Logger *slog.Logger
	// TrustedProxies are the addresses whose X-Forwarded-For and
	// X-Forwarded-Proto headers are believed.
	TrustedProxies []netip.Prefix
	// TLS is true when the server itself serves HTTPS.
	TLS bool
	// Sessions bound a sign-in; zero fields take the defaults.
	Sessions store.SessionTimeouts
	// SignInLimits bound failed sign-ins; zero fields take the defaults.
	SignInLimits store.SignInLimits
}

// Defaults for Config's zero fields.
var (
	DefaultSessions     = store.SessionTimeouts{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	DefaultSignInLimits = store.SignInLimits{Window: 15 * time.Minute, PerAccount: 10, PerAddress: 50}
)

// hashingSlots bounds the password checks running at once: each takes
// argon2id's memory (19 MiB), and a burst of sign-ins must not become a
// way to exhaust the server's.
const hashingSlots = 4

// maxFormBytes bounds a request body: a secret value is at most 1 MiB,
// like the CLI's, and a form carries little else.
const maxFormBytes = 2 << 20

// Server is the dashboard's HTTP handler.
type Server struct {
	st      *store.Store
	anon    *store.Store // acts as "dashboard" before anyone signed in
	log     *slog.Logger
	proxies []netip.Prefix
	tls     bool
	timeout store.SessionTimeouts
	limits  store.SignInLimits
	pages   map[string]*pageTemplate
	handler http.Handler
	hashing chan struct{}
	// lastPrune is when this process last deleted expired sessions and
	// counters (Unix seconds); any replica may do it.
	lastPrune atomic.Int64
}

// New builds the dashboard's handler.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || !cfg.Store.HasKeys() {
		return nil, errors.New("the dashboard needs a store opened with root keys: it writes secrets and audit events")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Sessions.Idle <= 0 {
		cfg.Sessions.Idle = DefaultSessions.Idle
	}
	if cfg.Sessions.Absolute <= 0 {
		cfg.Sessions.Absolute = DefaultSessions.Absolute
	}
	if cfg.SignInLimits == (store.SignInLimits{}) {
		cfg.SignInLimits = DefaultSignInLimits
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		st: cfg.Store, anon: cfg.Store.WithActor("dashboard"), log: cfg.Logger,
		proxies: cfg.TrustedProxies, tls: cfg.TLS, timeout: cfg.Sessions, limits: cfg.SignInLimits,
		pages: pages, hashing: make(chan struct{}, hashingSlots),
	}
	s.handler = s.middleware(s.routes())
	return s, nil
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes lists every page and action with the permission it needs: the one
// place where who may do what is decided (see roles.go).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(24*time.Hour, http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/secrets", http.StatusSeeOther) })
	mux.HandleFunc("GET /signin", s.signInPage)
	mux.HandleFunc("POST /signin", s.signIn)
	mux.HandleFunc("POST /signout", s.signOut)

	s.route(mux, "POST /signout-everywhere", permSignedIn, s.signOutEverywhere)
	s.route(mux, "GET /secrets", permSeeSecrets, s.secretsPage)
	s.route(mux, "GET /secrets/{project}/new", permWriteSecrets, s.secretForm)
	s.route(mux, "GET /secrets/{project}/{name}/edit", permWriteSecrets, s.secretForm)
	s.route(mux, "POST /secrets/{project}", permWriteSecrets, s.saveSecret)
	s.route(mux, "POST /secrets/{project}/{name}/reveal", permRevealSecrets, s.revealSecret)
	s.route(mux, "GET /secrets/{project}/{name}/delete", permDeleteSecrets, s.confirmDelete)
	s.route(mux, "POST /secrets/{project}/{name}/delete", permDeleteSecrets, s.deleteSecret)
	s.route(mux, "GET /secrets/{project}/{name}/history", permSeeSecrets, s.historyPage)
	s.route(mux, "POST /secrets/{project}/{name}/rollback", permRestoreSecrets, s.rollbackSecret)
	s.route(mux, "POST /secrets/{project}/{name}/undelete", permRestoreSecrets, s.undeleteSecret)
	s.route(mux, "POST /restarts/{project}/ack", permAckRestart, s.ackRestart)
	s.route(mux, "GET /models", permSeeModelDefaults, s.modelsPage)
	// The page's address before it was named for model defaults.
	s.route(mux, "GET /providers", permSeeModelDefaults, func(rq *request) {
		http.Redirect(rq.w, rq.Request, "/models?"+rq.URL.RawQuery, http.StatusMovedPermanently)
	})
	s.route(mux, "POST /models/{project}", permSetModelDefaults, s.saveModelDefaults)
	s.route(mux, "GET /audit", permSeeAudit, s.auditPage)
	s.route(mux, "POST /audit/export", permExportAudit, s.exportAudit)
	s.route(mux, "GET /audit/verify", permVerifyAudit, s.verifyAudit)
	s.route(mux, "GET /keys", permSeeKeys, s.keysPage)
	s.route(mux, "GET /accounts", permManageAccounts, s.accountsPage)
	s.route(mux, "POST /accounts/disable", permManageAccounts, s.disableAccount)
	s.route(mux, "POST /accounts/enable", permManageAccounts, s.enableAccount)
	s.route(mux, "POST /accounts/signout", permManageAccounts, s.signOutAccount)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	return mux
}

// middleware wraps every request: panics become a 500 page, every response
// carries the security headers, requests from other sites that could
// change something are refused, and each request is logged.
func (s *Server) middleware(next http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, nil, http.StatusForbidden,
			"Refused: this request came from another site. Nothing was changed. Use the dashboard's own pages and buttons.")
	}))
	protected := csrf.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := s.clientOf(r)
		r = r.WithContext(context.WithValue(r.Context(), clientKey{}, c))
		rec := &statusRecorder{ResponseWriter: w}
		s.securityHeaders(rec.Header(), c.secure)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.renderError(rec, r, nil, http.StatusInternalServerError, "Something went wrong on the server; it has been logged.")
				}
			}
			s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.code(), "account", rec.account,
				"client", c.address(), "duration_ms", time.Since(start).Milliseconds())
		}()
		protected.ServeHTTP(rec, r)
	})
}

// securityHeaders are sent with every response. The policy allows the
// dashboard's own stylesheet and images and nothing else: no script at
// all, no framing, forms posting only here, no referrer leaving.
func (s *Server) securityHeaders(h http.Header, secure bool) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Pages show who changed what, and a reveal shows a value: nothing is
	// kept in a cache or the back-forward history.
	h.Set("Cache-Control", "no-store")
	if secure {
		h.Set("Strict-Transport-Security", "max-age=63072000")
	}
}

// cacheFor lets browsers keep the embedded assets, which change only with
// the binary.
func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// healthz answers a load balancer's health check: the database is
// reachable.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.st.Pool().Ping(ctx); err != nil {
		s.log.Error("health check: database unreachable", "error", err.Error())
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// statusRecorder remembers the status written, and the account served,
// for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	account string
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
