// Command dashboard benchmarks the dashboard's two heaviest pages, each
// against a static copy of itself served by the same server: the Secrets
// page of a project of each size in -secrets (1,000 and 10,000: its first
// and last pages of a hundred, the last as its Next links reach it and,
// for reference, by the page number that older links name), and the Audit
// page at -events audit
// events, its newest page, its oldest (pages follow by key, so the oldest
// must cost what the newest does) and one filtered by a project.
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
// The child runs -runs times; each figure is the median of the runs'
// medians, with the spread of the handler's time across runs, and each
// ratio is taken within a run. The peak RSS is the child's (server and
// client). -cpuprofile writes a CPU profile of the child's timed requests.
//
//	go run ./tools/bench/dashboard -events 1000000
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
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

// The targets: the oldest page of the audit trail within maxPagingRatio of
// the newest, and a Secrets page, of any project size, in maxSecretsHandler
// in the handler.
const (
	maxPagingRatio    = 2.0
	maxSecretsHandler = 5 * time.Millisecond
)

const (
	email = "bench@example.com"
	// auditProject is one of the seeded events' projects, for the filtered
	// page.
	auditProject = "project-007"
)

func main() {
	secrets := flag.String("secrets", "1000,10000", "sizes of the projects whose Secrets pages are measured, comma-separated: one project of each")
	events := flag.Int("events", 1000000, "audit events in the trail")
	requests := flag.Int("requests", 100, "timed requests of each page, per run")
	runs := flag.Int("runs", 3, "runs of the serving process; each page's figures are the median of the runs, with their spread")
	dbURL := flag.String("database-url", "", "server to use (a superuser: seeding bypasses the chain trigger); default: a throwaway one")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the serving process's timed requests to this file (of the last run)")
	var c childOptions
	flag.StringVar(&c.mode, "child", "", "internal: serve and time the pages in this process (serve)")
	flag.StringVar(&c.url, "url", "", "internal: with -child, the database")
	flag.StringVar(&c.keysFile, "keys-file", "", "internal: with -child, the root keys file")
	flag.StringVar(&c.password, "password", "", "internal: with -child, the admin's password")
	flag.StringVar(&c.cpuprofile, "child-cpuprofile", "", "internal: with -child, where to write the CPU profile")
	flag.Parse()
	sizes, err := parseSizes(*secrets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench dashboard: -secrets:", err)
		os.Exit(2)
	}
	c.secrets, c.events, c.requests = sizes, *events, *requests

	if c.mode != "" {
		err = runChild(context.Background(), c)
	} else {
		err = run(sizes, *events, *requests, max(*runs, 1), *dbURL, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench dashboard:", err)
		os.Exit(1)
	}
}

func parseSizes(list string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a number of secrets", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func formatSizes(sizes []int) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// projectOf is the project of n secrets.
func projectOf(n int) string { return "bench-" + strconv.Itoa(n) }

func run(sizes []int, events, requests, runs int, dbURL, profile string) error {
	ctx := context.Background()
	total := 0
	for _, n := range sizes {
		total += n
	}
	// The seeded events cycle through auditProjects projects: the filtered
	// page needs a page of auditProject's after the secrets' own events.
	if least := total + auditProjects*(auditPageRows+1); events < least {
		fmt.Fprintf(os.Stderr, "-events %d raised to %d: one project's page needs %d of its events, and it has one in %d\n", events, least, auditPageRows, auditProjects)
		events = least
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

	for _, n := range sizes {
		err = benchkit.SeedSecrets(ctx, st, projectOf(n), n, benchkit.Workers(),
			func(i int) string { return fmt.Sprintf("SERVICE_%04d_TOKEN", i) },
			func(i int) []byte { return fmt.Appendf(nil, "token-%04d-%032x", i, i) })
		if err != nil {
			return err
		}
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

	args := []string{"-child", "serve", "-url", url, "-keys-file", keysFile, "-password", pw,
		"-secrets", formatSizes(sizes), "-events", strconv.Itoa(events), "-requests", strconv.Itoa(requests)}
	if profile != "" {
		abs, err := filepath.Abs(profile)
		if err != nil {
			return err
		}
		args = append(args, "-child-cpuprofile", abs)
	}
	var results []childResult
	var procs []benchkit.Run
	for i := range runs {
		var res childResult
		proc, err := benchkit.RunSelf(tmp, &res, args...)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "run %d of %d done\n", i+1, runs)
		results, procs = append(results, res), append(procs, proc)
	}
	report(results, procs, sizes, events, requests)
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
			        'project-' || lpad((g % ` + strconv.Itoa(auditProjects) + `)::text, 3, '0'), 'SECRET_' || lpad(g::text, 7, '0'),
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

// auditProjects is how many projects the seeded events are spread over.
const auditProjects = 200

// page is one measured page: its path, and what its body must hold.
type page struct {
	name, path string
	check      func(body string) error
}

func pages(sizes []int) []page {
	rows := func(marker string, n int) func(string) error {
		return func(body string) error {
			if got := strings.Count(body, marker); got != n {
				return fmt.Errorf("%d of %q, want %d", got, marker, n)
			}
			return nil
		}
	}
	var ps []page
	for _, n := range sizes {
		lastPage := max((n+secretsPageRows-1)/secretsPageRows, 1)
		// The last page as its Next links reach it (path is filled in by
		// following them), and by its number, as links made before
		// pages started at a place name it.
		ps = append(ps,
			page{secretsPagePrefix + "first of " + thousands(n) + " secrets", "/secrets?project=" + projectOf(n), rows(`class="secret"`, min(n, secretsPageRows))},
			page{secretsPagePrefix + "last of " + thousands(n) + " secrets", "", rows(`class="secret"`, n-(lastPage-1)*secretsPageRows)},
			page{"  the same by its number (an old link)", "/secrets?project=" + projectOf(n) + "&page=" + strconv.Itoa(lastPage),
				rows(`class="secret"`, n-(lastPage-1)*secretsPageRows)})
	}
	return append(ps,
		page{"Audit page, newest 50", "/audit", rows("<tr data-seq=", auditPageRows)},
		// before=51: events 1 to 50, the last page.
		page{"Audit page, oldest 50", "/audit?before=" + strconv.Itoa(auditPageRows+1), rows("<tr data-seq=", auditPageRows)},
		page{"Audit page, one project's newest 50", "/audit?project=" + auditProject, rows("<tr data-seq=", auditPageRows)},
	)
}

const secretsPagePrefix = "Secrets page, "

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
	cpuprofile                    string
	secrets                       []int
	events, requests              int
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
	for i := range ps {
		if ps[i].path == "" {
			if ps[i].path, err = cl.followNext(ps[i-1].path); err != nil {
				return fmt.Errorf("%s: %w", ps[i].name, err)
			}
		}
	}
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
	stopProfile, err := benchkit.CPUProfile(c.cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
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

// followNext follows a page's Next links to the last page, and returns
// its path.
func (c *client) followNext(path string) (string, error) {
	const marker = `id="next-page" rel="next" href="`
	for {
		body, err := c.get(path)
		if err != nil {
			return "", err
		}
		_, rest, ok := strings.Cut(body, marker)
		if !ok {
			return path, nil
		}
		href, _, _ := strings.Cut(rest, `"`)
		path = html.UnescapeString(href)
	}
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

// report prints each page's figures as the median of the runs' medians,
// with the spread of the handler's time across runs; ratios are taken
// within a run, then their median.
func report(results []childResult, procs []benchkit.Run, sizes []int, events, requests int) {
	fmt.Printf("dashboard benchmark: Secrets pages of projects of %s secrets, %s audit events, median of %d requests each per run, median of %d runs, %d CPUs, load %s\n",
		formatSizes(sizes), thousands(events), requests, len(results), runtime.NumCPU(), benchkit.Load())
	fmt.Printf("  %-38s  %9s  %9s  %-19s  %7s  %9s  %9s  %s\n", "", "response", "server", "server, spread", "ratio", "static", "size", "target")
	failed := false
	newest := -1
	for i, p := range results[0].Pages {
		of := func(f func(pageResult) time.Duration) []time.Duration {
			var ds []time.Duration
			for _, r := range results {
				ds = append(ds, f(r.Pages[i]))
			}
			return ds
		}
		server := of(func(p pageResult) time.Duration { return p.Server })
		var ratios []float64
		for _, r := range results {
			ratios = append(ratios, r.Pages[i].Response.Seconds()/r.Pages[i].Static.Seconds())
		}
		verdict := ""
		switch {
		case strings.HasPrefix(p.Name, secretsPagePrefix):
			ok := median(server) <= maxSecretsHandler
			failed = failed || !ok
			verdict = fmt.Sprintf("%s: server %s (%s)", benchkit.Verdict(ok), ms(median(server)), ms(maxSecretsHandler))
		case strings.HasPrefix(p.Name, "Audit page, newest"):
			newest = i
		case strings.HasPrefix(p.Name, "Audit page, oldest") && newest >= 0:
			var paging []float64
			for _, r := range results {
				paging = append(paging, r.Pages[i].Response.Seconds()/r.Pages[newest].Response.Seconds())
			}
			ratio := medianOf(paging)
			ok := ratio <= maxPagingRatio
			failed = failed || !ok
			verdict = fmt.Sprintf("%s: %.2fx the newest page (%.0fx)", benchkit.Verdict(ok), ratio, maxPagingRatio)
		}
		fmt.Printf("  %-38s  %9s  %9s  %-19s  %6.1fx  %9s  %9s  %s\n", p.Name,
			ms(median(of(func(p pageResult) time.Duration { return p.Response }))), ms(median(server)),
			ms(slices.Min(server))+" – "+ms(slices.Max(server)), medianOf(ratios),
			ms(median(of(func(p pageResult) time.Duration { return p.Static }))), kib(p.Bytes), verdict)
	}
	var rss []int64
	for _, p := range procs {
		rss = append(rss, p.PeakRSS)
	}
	slices.Sort(rss)
	fmt.Printf("  peak RSS of the serving process: %s (median of the runs; %s – %s)\n",
		benchkit.MiB(rss[len(rss)/2]), benchkit.MiB(rss[0]), benchkit.MiB(rss[len(rss)-1]))
	fmt.Println("response: a request to its last byte, over loopback, from a client in the serving process; server: the handler's time;")
	fmt.Println("static: the same bytes, captured once, served from memory by the same server (response time); ratio: response / static.")
	if failed {
		fmt.Println("at least one target missed")
	}
}

func medianOf(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
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
