package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/password"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Session cookie names. Over HTTPS the __Host- prefix makes the browser
// refuse the cookie unless it is Secure, for this host only and the whole
// path, so a sibling subdomain cannot plant or shadow it.
const (
	cookieSecure = "__Host-pgsecrets_session"
	cookiePlain  = "pgsecrets_session"
)

// signInFailed is the one answer to every failed sign-in, whether the
// account exists, is disabled, or the password is wrong: it must not tell
// which accounts exist.
const signInFailed = "The email or password is not right."

// request is one signed-in request, as handlers see it.
type request struct {
	*http.Request
	w       http.ResponseWriter
	account store.Account
	session store.Session
	// st acts as dashboard:<email>: every change and read it makes is
	// audited under that actor.
	st *store.Store
	// project is the project the route is about (path, query or form),
	// already checked against the account's limit; "" when none.
	project string
}

// route serves pattern to signed-in accounts that p allows, in the
// request's project, and refuses everyone else with nothing done.
func (s *Server) route(mux *http.ServeMux, pattern string, p permission, h func(*request)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		sess, ok := s.session(w, r)
		if !ok {
			return
		}
		if rec, ok := w.(*statusRecorder); ok {
			rec.account = sess.Account.Email
		}
		if err := parseForm(r); err != nil {
			s.renderError(w, r, &sess.Account, http.StatusRequestEntityTooLarge, "The form is too large: a value is at most 1 MiB. Nothing was changed.")
			return
		}
		if !queryIsText(r.URL.Query()) {
			s.renderError(w, r, &sess.Account, http.StatusBadRequest, "A parameter of this link is not text (it is not UTF-8, or holds a NUL byte): follow a link the dashboard made.")
			return
		}
		project := r.PathValue("project")
		if project == "" {
			project = r.FormValue("project")
		}
		if project != "" {
			if err := store.ValidateProject(project); err != nil {
				s.renderError(w, r, &sess.Account, http.StatusNotFound, "There is no such project: "+err.Error())
				return
			}
		}
		if err := p.check(sess.Account, project); err != nil {
			s.renderError(w, r, &sess.Account, http.StatusForbidden, err.Error())
			return
		}
		h(&request{Request: r, w: w, account: sess.Account, session: sess, project: project,
			st: s.st.WithActor("dashboard:" + sess.Account.Email)})
	})
}

// queryIsText reports whether every name and value of a link's query is
// text PostgreSQL can take (UTF-8, no NUL byte): the pages pass them to
// their queries, and any other bytes would fail there, as a server error.
func queryIsText(q url.Values) bool {
	text := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	for k, vs := range q {
		if !text(k) {
			return false
		}
		for _, v := range vs {
			if !text(v) {
				return false
			}
		}
	}
	return true
}

// parseForm reads a form, in memory only: a multipart form's file (a
// value) must never be spooled to a temporary file, and the body is
// already capped below the memory allowed.
func parseForm(r *http.Request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && mt == "multipart/form-data" {
		return r.ParseMultipartForm(maxFormBytes)
	}
	return r.ParseForm()
}

// session finds the request's live session. Without one, a page is
// redirected to the sign-in page and an action refused: either way nothing
// is done.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	token := sessionToken(r)
	if token != "" {
		sess, err := s.st.SessionByToken(r.Context(), token)
		if err == nil {
			return sess, true
		}
		if !errors.Is(err, store.ErrNotFound) {
			s.serverError(w, r, nil, "read session", err)
			return store.Session{}, false
		}
		s.clearCookie(w, r)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	} else {
		s.renderError(w, r, nil, http.StatusUnauthorized, "You are not signed in, or your session has ended. Nothing was changed; sign in and try again.")
	}
	return store.Session{}, false
}

// sessionToken is the value of the one cookie name the request's scheme
// allows: over HTTPS only the __Host- cookie counts. A plain-named cookie
// can be planted by a sibling subdomain or over plain HTTP, and believing
// it would sign the victim into the planter's account.
func sessionToken(r *http.Request) string {
	if c, err := r.Cookie(cookieName(clientFrom(r).secure)); err == nil {
		return c.Value
	}
	return ""
}

// cookieName is the session cookie's name over HTTPS (secure) or plain
// HTTP: the browser refuses a __Host- cookie that is not Secure.
func cookieName(secure bool) string {
	if secure {
		return cookieSecure
	}
	return cookiePlain
}

// setCookie hands the browser its session token: HttpOnly (no script can
// read it), SameSite=Strict (no other site's link or form carries it), and
// Secure with the __Host- prefix over HTTPS. It lasts as long as the
// session's absolute limit; the idle limit is the server's to enforce.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	secure := clientFrom(r).secure
	http.SetCookie(w, &http.Cookie{Name: cookieName(secure), Value: token, Path: "/", Expires: expires,
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request) {
	secure := clientFrom(r).secure
	for _, name := range []string{cookieSecure, cookiePlain} {
		if name == cookieSecure && !secure {
			continue // the browser would refuse a __Host- cookie without Secure
		}
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: name == cookieSecure, SameSite: http.SameSiteStrictMode})
	}
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if token := sessionToken(r); token != "" {
		if _, err := s.st.SessionByToken(r.Context(), token); err == nil {
			http.Redirect(w, r, "/secrets", http.StatusSeeOther)
			return
		}
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "signed-out":
		notice = "You are signed out."
	case "signed-out-everywhere":
		notice = "You are signed out everywhere."
	}
	s.render(w, r, http.StatusOK, "signin", page{Title: "Sign in", Notice: notice}, signInView{})
}

type signInView struct {
	Error string
}

// signIn checks an email and password. Every failure looks the same from
// outside: same status, same message, and about the same time (an unknown
// email still costs a password check).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email, pw := r.PostFormValue("email"), r.PostFormValue("password")
	c := clientFrom(r)
	s.pruneNowAndThen(r.Context())
	// The form comes back empty: what was typed as an email may be a
	// password or a value pasted into the wrong field, and the browser's
	// own autofill restores a real one.
	fail := func(status int, msg string) {
		s.render(w, r, status, "signin", page{Title: "Sign in"}, signInView{Error: msg})
	}
	attempt, err := s.st.BeginSignIn(r.Context(), email, c.limitKey(), s.limits)
	if err != nil {
		s.serverError(w, r, nil, "count sign-in attempt", err)
		return
	}
	if !attempt.Allowed {
		// Not audited one by one: a flood of refused attempts must not grow
		// the append-only trail without bound. The attempts that counted
		// towards the limit were.
		w.Header().Set("Retry-After", fmt.Sprint(int(attempt.RetryAfter.Seconds())))
		fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins for this account or from this address. Try again in %s.", roundUp(attempt.RetryAfter)))
		return
	}
	acct, ok, err := s.checkPassword(r.Context(), email, pw, c)
	if err != nil {
		s.serverError(w, r, nil, "check password", err)
		return
	}
	if !ok {
		fail(http.StatusUnauthorized, signInFailed)
		return
	}
	if err := s.st.SignInSucceeded(r.Context(), email, c.limitKey()); err != nil {
		s.serverError(w, r, nil, "clear sign-in attempts", err)
		return
	}
	// The cookie about to be overwritten may hold another session (another
	// account signed in in this browser): end it, or it would live on in
	// the database, unseen, until it expires.
	if err := s.endRequestSession(r); err != nil {
		s.serverError(w, r, nil, "end the session replaced", err)
		return
	}
	token, err := newToken()
	if err != nil {
		s.serverError(w, r, nil, "make session token", err)
		return
	}
	sess, err := s.st.WithActor("dashboard:"+acct.Email).StartSession(r.Context(), acct, token, s.timeout, c.address())
	if err != nil {
		s.serverError(w, r, nil, "start session", err)
		return
	}
	s.setCookie(w, r, token, sess.ExpiresAt)
	http.Redirect(w, r, "/secrets", http.StatusSeeOther)
}

// checkPassword verifies a sign-in and records a failure in the audit
// trail. A failed attempt names the account only when it exists: what was
// typed as an email may be a password typed in the wrong field.
func (s *Server) checkPassword(ctx context.Context, email, pw string, c client) (store.Account, bool, error) {
	select {
	case s.hashing <- struct{}{}:
		defer func() { <-s.hashing }()
	case <-ctx.Done():
		return store.Account{}, false, ctx.Err()
	}
	acct, hash, err := s.st.AccountCredentials(ctx, email)
	reason := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = password.Waste(pw)
		reason = "unknown account"
	case err != nil:
		return store.Account{}, false, err
	default:
		err := password.Verify(pw, hash)
		switch {
		case errors.Is(err, password.ErrMismatch):
			reason = "wrong password"
		case err != nil:
			// The hash is unreadable (edited in the database): refuse, and
			// tell the operator, not the browser.
			s.log.Error("stored password hash cannot be read", "account", acct.Email, "error", err.Error())
			reason = "unreadable password hash"
		case acct.Disabled:
			reason = "account disabled"
		}
	}
	if reason == "" {
		return acct, true, nil
	}
	details := map[string]any{"address": c.address(), "reason": reason}
	err = s.anon.Audit(ctx, &audit.Event{Action: audit.ActionSignInFailed, Subject: acct.Email, Details: audit.Details(details)})
	return store.Account{}, false, err
}

// newToken is a session token: 256 random bits.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if err := s.endRequestSession(r); err != nil {
		s.serverError(w, r, nil, "end session", err)
		return
	}
	s.clearCookie(w, r)
	http.Redirect(w, r, "/signin?done=signed-out", http.StatusSeeOther)
}

// endRequestSession ends the session whose cookie r carries, recorded as a
// sign-out. The actor is whoever the session belongs to; a token that
// matches no session ends nothing and records nothing.
func (s *Server) endRequestSession(r *http.Request) error {
	token := sessionToken(r)
	if token == "" {
		return nil
	}
	actor := s.anon
	if sess, err := s.st.SessionByToken(r.Context(), token); err == nil {
		actor = s.st.WithActor("dashboard:" + sess.Account.Email)
	}
	return actor.EndSession(r.Context(), token)
}

func (s *Server) signOutEverywhere(rq *request) {
	if _, err := rq.st.EndAccountSessions(rq.Context(), rq.account); err != nil {
		s.failed(rq, "end sessions", err)
		return
	}
	s.clearCookie(rq.w, rq.Request)
	http.Redirect(rq.w, rq.Request, "/signin?done=signed-out-everywhere", http.StatusSeeOther)
}

// pruneNowAndThen deletes expired sessions and sign-in counters at most
// once a minute per process, on the sign-in path, so no scheduler is
// needed; failing to is logged, not fatal.
func (s *Server) pruneNowAndThen(ctx context.Context) {
	now := time.Now().Unix()
	last := s.lastPrune.Load()
	if now-last < 60 || !s.lastPrune.CompareAndSwap(last, now) {
		return
	}
	if err := s.st.PruneDashboardState(ctx, s.limits.Window); err != nil {
		s.log.Warn("prune expired sessions", "error", err.Error())
	}
}

// roundUp shows a wait in whole minutes, or seconds under one.
func roundUp(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", max(1, int(d.Seconds())))
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
