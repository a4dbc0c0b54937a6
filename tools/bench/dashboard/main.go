// Command dashboard benchmarks the dashboard's two heaviest pages, each
// against a static copy of itself served by the same server: the Secrets
// page of a project of -secrets secrets (its first and last pages of a
// hundred), and the Audit page at -events
// audit events, its newest page, its oldest (pages follow by key, so the
// oldest must cost what the newest does) and one filtered by a project.
//
// The secrets are written through store.PutSecret; the audit events
// straight into the table with generate_series (as tools/bench/auditexport
// seeds them: the trigger that chains them is off, and the page does not
// check MACs), both untimed. A child process (this program run again with
// -child) serves the dashboard as `pgsecrets serve` does, on a loopback
// port, with the static copies of its pages on the same http.Server, signs
// in over HTTP as an admin, and times -requests requests of each page,
// alternating, each from the request to its last byte: "response". The
// same child times its handler, from the request to the handler's return:
// "server". A static copy is the page's own bytes, captured once, so the
// two cost the same to send and the ratio is what rendering the page adds.
// Medians are reported; the peak RSS is the child's (server and client).
//
//	go run ./tools/bench/dashboard -events 1000000
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dashboard"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/password"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// maxPagingRatio is the target: the oldest page of the audit trail within
// this factor of the newest.
const maxPagingRatio = 2.0

const (
	project = "bench"
	email   = "bench@example.com"
	// auditProject is one of the seeded events' projects, for the filtered
	// page.
	auditProject = "project-007"
)

func main() {
	secrets := flag.Int("secrets", 1000, "secrets in the project of the Secrets page")
	events := flag.Int("events", 1000000, "audit events in the trail")
	requests := flag.Int("requests", 100, "timed requests of each page")
	dbURL := flag.String("database-url", "", "server to use (a superuser: seeding bypasses the chain trigger); default: a throwaway one")
	var c childOptions
	flag.StringVar(&c.mode, "child", "", "internal: serve and time the pages in this process (serve)")
	flag.StringVar(&c.url, "url", "", "internal: with -child, the database")
	flag.StringVar(&c.keysFile, "keys-file", "", "internal: with -child, the root keys file")
	flag.StringVar(&c.password, "password", "", "internal: with -child, the admin's password")
	flag.Parse()
	c.secrets, c.events, c.requests = *secrets, *events, *requests

	var err error
	if c.mode != "" {
		err = runChild(context.Background(), c)
	} else {
		err = run(*secrets, *events, *requests, *dbURL)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench dashboard:", err)
		os.Exit(1)
	}
}

func run(secrets, events, requests int, dbURL string) error {
	ctx := context.Background()
	if events < secrets+auditPageRows {
		return fmt.Errorf("-events %d: want at least -secrets plus a page (%d)", events, secrets+auditPageRows)
	}
	ws, err := benchkit.Begin(ctx, "dashboard", dbURL)
	if err != nil {
		return err
	}
	defer ws.Close()
	tmp, srv, key, keysFile := ws.Dir, ws.Server, ws.Key, ws.KeysFile
	st, url, err := benchkit.NewStoreDatabase(ctx, srv, "bench_dashboard", key, 0)
	if err != nil {
		return err
	}
	defer st.Close()

	err = benchkit.SeedSecrets(ctx, st, project, secrets, benchkit.Workers(),
		func(i int) string { return fmt.Sprintf("SERVICE_%04d_TOKEN", i) },
		func(i int) []byte { return fmt.Appendf(nil, "token-%04d-%032x", i, i) })
	if err != nil {
		return err
	}
	start := time.Now()
	if err := seedAuditEvents(ctx, st, events); err != nil {
		return fmt.Errorf("seed audit events: %w", err)
	}
	fmt.Fprintf(os.Stderr, "seeded the audit trail to %d events in %.1fs\n", events, time.Since(start).Seconds())
	// A cheap hash of the real format: the 19 MiB of a real one would be
	// the sign-in's, and hide the pages' memory in the peak RSS.
	pw := rand.Text()
	hash, err := password.Hash(pw, password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		return err
	}
	if _, err := st.CreateAccount(ctx, store.NewAccount{Email: email, Role: store.RoleAdmin, PasswordHash: hash}); err != nil {
		return err
	}
	if err := benchkit.Settle(ctx, st); err != nil {
		return err
	}

	var res childResult
	proc, err := benchkit.RunSelf(tmp, &res, "-child", "serve", "-url", url, "-keys-file", keysFile, "-password", pw,
		"-secrets", strconv.Itoa(secrets), "-events", strconv.Itoa(events), "-requests", strconv.Itoa(requests))
	if err != nil {
		return err
	}
	report(res, proc, secrets, events, requests)
	return nil
}

// seedAuditEvents fills the trail up to events events after those the
// seeding of secrets wrote, of realistic size, then points the chain head
// at the last one so that the sign-in can append its own.
func seedAuditEvents(ctx context.Context, st *store.Store, events int) error {
	return pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		for _, sql := range []string{
			"alter table pgsecrets.audit_events disable trigger user",
			`insert into pgsecrets.audit_events (seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac)
			 select g, now() - ($1::bigint - g) * interval '1 second',
			        'operator-' || (g % 7) || '@host-' || (g % 3), 'pgsecrets_app',
			        (array['secret.create', 'secret.update', 'secret.read', 'secret.delete'])[1 + g % 4],
			        'project-' || lpad((g % 200)::text, 3, '0'), 'SECRET_' || lpad(g::text, 7, '0'),
			        '{"kid":"251123-Ab3x","purpose":"terraform refresh","revision":' || (g % 50) || '}',
			        'bench-root', encode(sha256(int8send(g - 1)), 'hex'), encode(sha256(int8send(g)), 'hex')
			 from generate_series((select max(seq) + 1 from pgsecrets.audit_events), $1::bigint) g`,
			"alter table pgsecrets.audit_events enable trigger user",
			"update pgsecrets.audit_head set seq = $1::bigint, mac = encode(sha256(int8send($1::bigint)), 'hex')",
		} {
			var args []any
			if strings.Contains(sql, "$1") {
				args = []any{events}
			}
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// auditPageRows is how many events an audit page shows, and
// secretsPageRows how many secrets a Secrets page does.
const auditPageRows, secretsPageRows = 50, 100

// page is one measured page: its path, and what its body must hold.
type page struct {
	name, path string
	check      func(body string) error
}

func pages(secrets int) []page {
	rows := func(marker string, n int) func(string) error {
		return func(body string) error {
			if got := strings.Count(body, marker); got != n {
				return fmt.Errorf("%d of %q, want %d", got, marker, n)
			}
			return nil
		}
	}
	lastPage := max((secrets+secretsPageRows-1)/secretsPageRows, 1)
	return []page{
		{"Secrets page, first of " + thousands(secrets) + " secrets", "/secrets?project=" + project, rows(`class="secret"`, min(secrets, secretsPageRows))},
		{"Secrets page, last of " + thousands(secrets) + " secrets", "/secrets?project=" + project + "&page=" + strconv.Itoa(lastPage),
			rows(`class="secret"`, secrets-(lastPage-1)*secretsPageRows)},
		{"Audit page, newest 50", "/audit", rows("<tr data-seq=", auditPageRows)},
		// before=51: events 1 to 50, the last page.
		{"Audit page, oldest 50", "/audit?before=" + strconv.Itoa(auditPageRows+1), rows("<tr data-seq=", auditPageRows)},
		{"Audit page, one project's newest 50", "/audit?project=" + auditProject, rows("<tr data-seq=", auditPageRows)},
	}
}

// childResult is what the child measured, per page: the page's figures
// and its static copy's.
type childResult struct {
	Pages []pageResult
}

type pageResult struct {
	Name                 string
	Bytes                int
	Response, Server     time.Duration // medians
	Static, StaticServer time.Duration
}

type childOptions struct {
	mode, url, keysFile, password string
	secrets, events, requests     int
}

// runChild serves the dashboard as `pgsecrets serve` does, with the
// static copies beside it, and times the pages from a client in this
// process.
func runChild(ctx context.Context, c childOptions) error {
	if c.mode != "serve" {
		return fmt.Errorf("unknown -child %q", c.mode)
	}
	keysJSON, err := os.ReadFile(c.keysFile)
	if err != nil {
		return err
	}
	ring, err := keyring.Load(keysJSON)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: c.url, Schema: store.DefaultSchema, Actor: "dashboard",
		Channel: store.ChannelDashboard, MaxConns: 16}, ring)
	if err != nil {
		return err
	}
	defer st.Close()
	// Request lines are formatted as serve formats them, then dropped.
	dash, err := dashboard.New(dashboard.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}

	static := &staticCopies{pages: map[string][]byte{}}
	timer := &handlerTimes{byPath: map[string][]time.Duration{}}
	mux := http.NewServeMux()
	mux.Handle("/", dash)
	mux.Handle("GET /static-copy/{page}", static)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: timer.wrap(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	cl, err := signIn("http://"+ln.Addr().String(), c.password)
	if err != nil {
		return err
	}
	ps := pages(c.secrets)
	for i, p := range ps {
		body, err := cl.get(p.path)
		if err != nil {
			return err
		}
		if err := p.check(body); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		static.set(strconv.Itoa(i), []byte(body))
	}

	// Warm both, then time them in turns, so that whatever else the
	// machine does falls on each alike.
	type times struct{ page, static []time.Duration }
	measured := make([]times, len(ps))
	for round := -3; round < c.requests; round++ {
		for i, p := range ps {
			for _, path := range []string{p.path, "/static-copy/" + strconv.Itoa(i)} {
				start := time.Now()
				if _, err := cl.get(path); err != nil {
					return err
				}
				if round < 0 {
					continue
				}
				if d := time.Since(start); strings.HasPrefix(path, "/static-copy/") {
					measured[i].static = append(measured[i].static, d)
				} else {
					measured[i].page = append(measured[i].page, d)
				}
			}
		}
		if round == -1 {
			timer.reset()
		}
	}
	var res childResult
	for i, p := range ps {
		res.Pages = append(res.Pages, pageResult{
			Name: p.name, Bytes: len(static.pages[strconv.Itoa(i)]),
			Response: median(measured[i].page), Server: median(timer.of(p.path)),
			Static: median(measured[i].static), StaticServer: median(timer.of("/static-copy/" + strconv.Itoa(i))),
		})
	}
	return benchkit.Emit(res)
}

// client is a signed-in browser, as far as the server can tell.
type client struct {
	base   string
	http   *http.Client
	cookie *http.Cookie
}

func signIn(base, pw string) (*client, error) {
	c := &client{base: base, http: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	req, err := http.NewRequest(http.MethodPost, base+"/signin", strings.NewReader(url.Values{"email": {email}, "password": {pw}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin") // as a browser sends it for the dashboard's own form
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Value != "" {
			c.cookie = ck
		}
	}
	if res.StatusCode != http.StatusSeeOther || c.cookie == nil {
		return nil, fmt.Errorf("sign in: %s", res.Status)
	}
	return c, nil
}

// get reads a page whole.
func (c *client) get(path string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	req.AddCookie(c.cookie)
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %.300s", path, res.Status, body)
	}
	return string(body), nil
}

// staticCopies serves pages captured once, as a file server would.
type staticCopies struct {
	mu    sync.Mutex
	pages map[string][]byte
}

func (s *staticCopies) set(name string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[name] = b
}

func (s *staticCopies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.pages[r.PathValue("page")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// handlerTimes records how long the server's handler takes, per path and
// query.
type handlerTimes struct {
	mu     sync.Mutex
	byPath map[string][]time.Duration
}

func (h *handlerTimes) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		d := time.Since(start)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.byPath[r.URL.RequestURI()] = append(h.byPath[r.URL.RequestURI()], d)
	})
}

func (h *handlerTimes) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.byPath)
}

func (h *handlerTimes) of(path string) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.byPath[path])
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(res childResult, proc benchkit.Run, secrets, events, requests int) {
	fmt.Printf("dashboard benchmark: %s secrets in the project, %s audit events, median of %d requests each, %d CPUs, load %s\n",
		thousands(secrets), thousands(events), requests, runtime.NumCPU(), benchkit.Load())
	fmt.Printf("  %-38s  %9s  %9s  %7s  %9s  %9s  %s\n", "", "response", "server", "ratio", "static", "size", "target")
	var newest, oldest time.Duration
	failed := false
	for _, p := range res.Pages {
		verdict := ""
		switch {
		case strings.HasPrefix(p.Name, "Audit page, newest"):
			newest = p.Response
		case strings.HasPrefix(p.Name, "Audit page, oldest"):
			oldest = p.Response
			ratio := oldest.Seconds() / newest.Seconds()
			ok := ratio <= maxPagingRatio
			failed = failed || !ok
			verdict = fmt.Sprintf("%s: %.2fx the newest page (%.0fx)", benchkit.Verdict(ok), ratio, maxPagingRatio)
		}
		fmt.Printf("  %-38s  %9s  %9s  %6.1fx  %9s  %9s  %s\n", p.Name, ms(p.Response), ms(p.Server),
			p.Response.Seconds()/p.Static.Seconds(), ms(p.Static), kib(p.Bytes), verdict)
	}
	fmt.Printf("  peak RSS of the serving process: %s\n", benchkit.MiB(proc.PeakRSS))
	fmt.Println("response: a request to its last byte, over loopback, from a client in the serving process; server: the handler's time;")
	fmt.Println("static: the same bytes, captured once, served from memory by the same server (response time); ratio: response / static.")
	if failed {
		fmt.Println("at least one target missed")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func kib(n int) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

// thousands writes n with thousands separators: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
