// Command writers benchmarks concurrent writes of secrets through
// store.PutSecret, the one write path of the CLI, Terraform and import-env,
// against the floor of any correct implementation: the same transactions
// written with plain SQL through pgx.
//
// -writers goroutines each make -writes writes, alternately a new secret and
// an update of one of -seeded secrets of their own (seeded beforehand,
// untimed), passing the revision they last wrote, so every write is a
// compare-and-swap that succeeds. Both contenders encrypt in-process with
// the same keyring, bound to the secret and its new revision, and share the
// store's pool configuration (store.Connect, -writers connections, opened
// and warmed before timing).
//
// Per write, the floor runs the least a correct implementation must, each
// statement one round trip in one transaction:
//
//	begin
//	new secret: insert the row at revision 1, only if the secret has no
//	            history (a name created again after a delete continues its
//	            revisions), in one statement
//	update:     keep the current row as a version and replace it if it is
//	            still at the expected revision, in one statement
//	select the audit chain head for update (its seq, MAC and the
//	            transaction time, which the event's MAC covers)
//	insert the audit event, linked and MACed with the deployment's audit key
//	commit
//
// and leaves the same rows: the secret, its versions, an event per write
// with the same details, a chain that `audit verify` accepts. The benchmark
// checks that after each run (row counts, revisions, values read back
// through the store, the audit chain verified), untimed. What PutSecret
// does beyond the floor is its own cost: a round trip before it encrypts
// (the primary key, share-locked so that it cannot change before the
// commit, and the revision the value will have, from the history), one
// after an update to apply history retention, the written row's metadata
// returned, and the audit chain head locked through audit_lock_head, which
// a runtime role without rights on the head can call (the floor locks the
// head directly, so it needs a superuser or the schema's owner).
//
// Each contender runs in a child process of its own (this program run again
// with -child), on a fresh database seeded the same way, so each has its
// own peak RSS; the best of -runs is reported, contenders alternating.
//
//	go run ./tools/bench/writers -writers 8 -writes 500
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// maxRatio is the target: PutSecret's wall time within this factor of the
// floor's for the same writes.
const maxRatio = 1.5

const project = "bench-writers"

// load is the shape of a run, the same for every contender.
type load struct {
	writers, writes, seeded int
}

func (l load) seedName(i int) string { return oldName(i/l.seeded, i%l.seeded) }
func oldName(w, k int) string        { return fmt.Sprintf("W%02d_OLD_%04d", w, k) }
func newName(w, j int) string        { return fmt.Sprintf("W%02d_NEW_%06d", w, j) }
func value(w, j int) []byte          { return []byte(fmt.Sprintf("sk_live_w%02d_%06d_%024d", w, j, j)) }
func seedValue(i int) []byte         { return value(99, i) }

// write is writer w's j-th write: a new secret for even j, else an update
// of one of its seeded secrets, round robin.
func (l load) write(w, j int) (name string, update bool, k int) {
	if j%2 == 0 {
		return newName(w, j), false, 0
	}
	k = (j / 2) % l.seeded
	return oldName(w, k), true, k
}

// updatesOf is how many times writer w's seeded secret k is updated.
func (l load) updatesOf(k int) int {
	n := 0
	for j := 1; j < l.writes; j += 2 {
		if (j/2)%l.seeded == k {
			n++
		}
	}
	return n
}

func main() {
	var l load
	flag.IntVar(&l.writers, "writers", 8, "concurrent writers")
	flag.IntVar(&l.writes, "writes", 500, "writes per writer, alternately a new secret and an update")
	flag.IntVar(&l.seeded, "seeded", 25, "secrets per writer seeded beforehand, which its updates go to")
	runs := flag.Int("runs", 2, "runs of each contender, alternating; the best is reported")
	dbURL := flag.String("database-url", "", "server to use (a superuser or the schema's owner: the floor locks the audit chain head itself); default: a throwaway one")
	profile := flag.String("cpuprofile", "", "write a CPU profile of each contender's writes, per run, into this directory")
	child := flag.String("child", "", "internal: run one contender (floor, store) in this process and print its result")
	childURL := flag.String("url", "", "internal: with -child, the database")
	childKeys := flag.String("keys-file", "", "internal: with -child, the root keys file")
	childProfile := flag.String("child-cpuprofile", "", "internal: with -child, write a CPU profile of the writes to this file")
	flag.Parse()
	if l.writers < 1 || l.writes < 1 || l.seeded < 1 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench writers: -writers, -writes, -seeded and -runs must be at least 1")
		os.Exit(2)
	}
	ctx := context.Background()
	var err error
	if *child != "" {
		err = runChild(ctx, *child, *childURL, *childKeys, *childProfile, l)
	} else {
		err = run(ctx, l, *runs, *dbURL, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench writers:", err)
		os.Exit(1)
	}
}

// childResult is what a child reports of its writes.
type childResult struct {
	Writes int
	Wall   time.Duration
	CPU    time.Duration
	// ServerCPU is PostgreSQL's CPU time meanwhile, when it runs on this
	// machine.
	ServerCPU time.Duration
	P50, P99  time.Duration // latency of one write
}

// contender is one contender's best run.
type contender struct {
	mode, what string
	best       childResult
	rss        int64
}

func run(ctx context.Context, l load, runs int, dbURL, profile string) error {
	ws, err := benchkit.Begin(ctx, "writers", dbURL)
	if err != nil {
		return err
	}
	defer ws.Close()
	tmp, srv, key, keysFile := ws.Dir, ws.Server, ws.Key, ws.KeysFile

	contenders := []*contender{
		{mode: "floor", what: "floor: plain SQL, 5 round trips"},
		{mode: "store", what: "store.PutSecret"},
	}
	for i := range runs {
		order := contenders
		if i%2 == 1 {
			order = []*contender{contenders[1], contenders[0]}
		}
		for _, c := range order {
			fmt.Fprintf(os.Stderr, "run %d of %d: %s...\n", i+1, runs, c.mode)
			var profileFile string
			if profile != "" {
				if err := os.MkdirAll(profile, 0o755); err != nil {
					return err
				}
				if profileFile, err = filepath.Abs(filepath.Join(profile, fmt.Sprintf("%s-%d.pprof", c.mode, i+1))); err != nil {
					return err
				}
			}
			res, rss, err := measure(ctx, srv, tmp, key, keysFile, c.mode, profileFile, l)
			if err != nil {
				return fmt.Errorf("%s: %w", c.mode, err)
			}
			if c.best.Wall == 0 || res.Wall < c.best.Wall {
				c.best, c.rss = res, rss
			}
		}
	}

	total := l.writers * l.writes
	fmt.Printf("writers benchmark: %d writers x %d writes (alternately a new secret and an update of one of %d per writer), best of %d runs, %d CPUs, load %s\n",
		l.writers, l.writes, l.seeded, runs, runtime.NumCPU(), benchkit.Load())
	fmt.Printf("  %-32s  %8s  %9s  %7s  %8s  %8s  %8s  %10s  %10s  %s\n", "", "wall", "writes/s", "ratio", "p50", "p99", "CPU", "server CPU", "peak RSS", "target (1.5x)")
	floor := contenders[0].best.Wall
	failed := false
	for i, c := range contenders {
		ratio := c.best.Wall.Seconds() / floor.Seconds()
		verdict := "(floor)"
		if i > 0 {
			verdict = benchkit.Verdict(ratio <= maxRatio)
			failed = failed || ratio > maxRatio
		}
		fmt.Printf("  %-32s  %7.2fs  %9.0f  %6.2fx  %6.2fms  %6.2fms  %7.2fs  %9.2fs  %10s  %s\n", c.what,
			c.best.Wall.Seconds(), float64(total)/c.best.Wall.Seconds(), ratio,
			ms(c.best.P50), ms(c.best.P99), c.best.CPU.Seconds(), c.best.ServerCPU.Seconds(), benchkit.MiB(c.rss), verdict)
	}
	fmt.Println("wall: from the first write to the last, all writers; p50/p99: one write's latency; CPU: the child's user+system time while writing;")
	fmt.Println("server CPU: PostgreSQL's meanwhile (all its processes, when on this machine); peak RSS: the child process's. Both encrypt in-process and leave the same rows and audit events.")
	if failed {
		fmt.Println("target missed")
	}
	if profile != "" {
		fmt.Printf("CPU profiles of the writes (the client's, not the server's): %s/{floor,store}-RUN.pprof\n", profile)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measure seeds a fresh database, runs one contender on it in a child
// process, and checks what it wrote.
func measure(ctx context.Context, srv *benchkit.Server, tmp string, key *keyring.Key, keysFile, mode, profileFile string, l load) (childResult, int64, error) {
	st, url, err := benchkit.NewStoreDatabase(ctx, srv, "bench_writers_"+mode, key, int32(benchkit.Workers()))
	if err != nil {
		return childResult{}, 0, err
	}
	defer st.Close()
	err = benchkit.SeedSecrets(ctx, st, project, l.writers*l.seeded, benchkit.Workers(), l.seedName, seedValue)
	if err == nil {
		err = benchkit.Settle(ctx, st)
	}
	if err != nil {
		return childResult{}, 0, err
	}
	var res childResult
	args := []string{"-child", mode, "-url", url, "-keys-file", keysFile,
		"-writers", fmt.Sprint(l.writers), "-writes", fmt.Sprint(l.writes), "-seeded", fmt.Sprint(l.seeded)}
	if profileFile != "" {
		args = append(args, "-child-cpuprofile", profileFile)
	}
	r, err := benchkit.RunSelf(tmp, &res, args...)
	if err != nil {
		return childResult{}, 0, err
	}
	if res.Writes != l.writers*l.writes {
		return childResult{}, 0, fmt.Errorf("made %d writes, want %d", res.Writes, l.writers*l.writes)
	}
	if err := check(ctx, st, l); err != nil {
		return childResult{}, 0, fmt.Errorf("check what was written: %w", err)
	}
	return res, r.PeakRSS, nil
}

// check reads back, through the store, what a contender wrote: every
// secret at its expected revision with its last value, every replaced
// value kept as a version, an audit event per write, the chain intact.
func check(ctx context.Context, st *store.Store, l load) error {
	metas, err := st.ListSecrets(ctx, project)
	if err != nil {
		return err
	}
	creates := (l.writes + 1) / 2
	if want := l.writers * (l.seeded + creates); len(metas) != want {
		return fmt.Errorf("%d secrets, want %d", len(metas), want)
	}
	want := map[string]string{} // each name's last value
	for w := range l.writers {
		for j := range l.writes {
			name, _, _ := l.write(w, j)
			want[name] = string(value(w, j))
		}
	}
	names := make([]string, 0, len(metas))
	revisions := make(map[string]int64, len(metas))
	for _, m := range metas {
		names = append(names, m.Name)
		revisions[m.Name] = m.Revision
	}
	// Each value decrypts only under the binding of its row and revision.
	values, err := st.GetValues(ctx, project, names, "bench check")
	if err != nil {
		return err
	}
	for name, v := range want {
		if string(values[name]) != v {
			return fmt.Errorf("%s does not hold its last value", name)
		}
	}
	for w := range l.writers {
		for k := range l.seeded {
			name, n := oldName(w, k), l.updatesOf(k)
			if revisions[name] != int64(1+n) {
				return fmt.Errorf("%s is at revision %d, want %d", name, revisions[name], 1+n)
			}
		}
	}
	var versions, events int64
	if err := st.Pool().QueryRow(ctx, "select (select count(*) from pgsecrets.secret_versions), (select count(*) from pgsecrets.audit_events where action in ('secret.create', 'secret.update') and project = $1)",
		project).Scan(&versions, &events); err != nil {
		return err
	}
	updates := l.writes / 2
	if want := int64(l.writers * updates); versions != want {
		return fmt.Errorf("%d versions kept, want %d", versions, want)
	}
	if want := int64(l.writers * (l.seeded + l.writes)); events != want {
		return fmt.Errorf("%d write events, want %d", events, want)
	}
	if _, err := st.VerifyAuditChain(ctx, ""); err != nil {
		return fmt.Errorf("verify the audit chain: %w", err)
	}
	return nil
}

// writeFunc makes writer w's write of value to name; update says whether
// it replaces revision expected. It returns the revision written.
type writeFunc func(ctx context.Context, w int, name string, update bool, expected int64, value []byte) (int64, error)

func runChild(ctx context.Context, mode, url, keysFile, profile string, l load) error {
	keysJSON, err := os.ReadFile(keysFile)
	if err != nil {
		return err
	}
	ring, err := keyring.Load(keysJSON)
	if err != nil {
		return err
	}
	cfg := store.Config{DatabaseURL: url, Schema: store.DefaultSchema, Actor: "bench", MaxConns: int32(l.writers)}
	var (
		pool  *pgxpool.Pool
		write writeFunc
	)
	switch mode {
	case "store":
		st, err := store.Open(ctx, cfg, ring)
		if err != nil {
			return err
		}
		defer st.Close()
		pool = st.Pool()
		write = func(ctx context.Context, _ int, name string, update bool, expected int64, value []byte) (int64, error) {
			if !update {
				expected = store.MustNotExist
			}
			meta, err := st.PutSecret(ctx, store.PutSecretInput{Project: project, Name: name, Value: value, ExpectedRevision: expected})
			return meta.Revision, err
		}
	case "floor":
		if pool, err = store.Connect(ctx, cfg); err != nil {
			return err
		}
		defer pool.Close()
		f, err := newFloor(ctx, pool, ring, cfg.Actor)
		if err != nil {
			return err
		}
		write = f.write
	default:
		return fmt.Errorf("unknown -child %q", mode)
	}
	if err := warm(ctx, pool, l.writers); err != nil {
		return err
	}
	stopProfile, err := benchkit.CPUProfile(profile)
	if err != nil {
		return err
	}
	res, err := writeAll(ctx, l, benchkit.LocalServerCPU(ctx, url), write)
	stopProfile()
	if err != nil {
		return err
	}
	return benchkit.Emit(res)
}

// warm opens every connection of the pool before timing.
func warm(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "select 1"); err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// writeAll runs the writers, all starting together, and times them.
func writeAll(ctx context.Context, l load, serverCPU func() time.Duration, write writeFunc) (childResult, error) {
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error
		latencies = make([][]time.Duration, l.writers)
		start     = make(chan struct{})
	)
	for w := range l.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			revisions := make([]int64, l.seeded) // what this writer last wrote
			for k := range revisions {
				revisions[k] = 1
			}
			lat := make([]time.Duration, 0, l.writes)
			<-start
			for j := range l.writes {
				name, update, k := l.write(w, j)
				t := time.Now()
				rev, err := write(ctx, w, name, update, revisions[k], value(w, j))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("writer %d, write %d (%s): %w", w, j, name, err)
					}
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t))
				if update {
					revisions[k] = rev
				}
			}
			latencies[w] = lat
		}()
	}
	cpu, server, t0 := benchkit.CPUTime(), serverCPU(), time.Now()
	close(start)
	wg.Wait()
	res := childResult{Wall: time.Since(t0), CPU: benchkit.CPUTime() - cpu, ServerCPU: serverCPU() - server}
	if firstErr != nil {
		return childResult{}, firstErr
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	res.Writes = len(all)
	if len(all) > 0 {
		res.P50, res.P99 = all[len(all)/2], all[len(all)*99/100]
	}
	return res, nil
}

// floor writes secrets with plain SQL: the least a correct write does.
type floor struct {
	pool  *pgxpool.Pool
	ring  *keyring.Keyring
	actor string
	key   *audit.Key
	chain audit.Chain
	// category and restart are the catalog's for names like these, which
	// PutSecret records too.
	category string
	restart  bool
}

// newFloor opens the deployment's audit key, as the store does once per
// process, so that the floor's events extend the same verifiable chain.
func newFloor(ctx context.Context, pool *pgxpool.Pool, ring *keyring.Keyring, actor string) (*floor, error) {
	f := &floor{pool: pool, ring: ring, actor: actor, chain: audit.Chain{Schema: store.DefaultSchema}}
	var kid, wrapped string
	err := pool.QueryRow(ctx, "select (select id from pgsecrets.deployment), kid, wrapped_key from pgsecrets.audit_keys where wrapping_kid = $1 and scheme = 2 and last_seq = 0",
		ring.RootKey().KID).Scan(&f.chain.Deployment, &kid, &wrapped)
	if err != nil {
		return nil, fmt.Errorf("read the audit key: %w", err)
	}
	secret, err := ring.UnwrapAuditKey(wrapped, keyring.AuditKeyBinding(f.chain.Deployment, kid, audit.SchemeDeployment, 0))
	if err != nil {
		return nil, fmt.Errorf("open the audit key: %w", err)
	}
	f.key = audit.NewKey(kid, audit.SchemeDeployment, 0, secret)
	// The catalog's category and restart flag for the names written; the
	// value only has to pass the policy.
	in := store.PutSecretInput{Project: "bench", Name: newName(0, 0), Value: []byte("v")}
	if err := in.ApplyPolicy(); err != nil {
		return nil, err
	}
	f.category, f.restart = in.Category, *in.RequiresRestart
	return f, nil
}

const (
	floorCreate = `insert into pgsecrets.secrets (project, name, ciphertext, kid, bound, description, category, created_by, updated_by, requires_restart, revision, last_action)
		select $1, $2, $3, $4, true, '', $5, $6, $6, $7, 1, 'create'
		where not exists (select from pgsecrets.secret_versions where project = $1 and name = $2)
		on conflict (project, name) do nothing`
	floorUpdate = `with kept as (
			insert into pgsecrets.secret_versions (project, name, revision, ciphertext, kid, bound, description, category, requires_restart, action, written_at, written_by)
			select project, name, revision, ciphertext, kid, bound, description, category, requires_restart, last_action, updated_at, updated_by
			from pgsecrets.secrets where project = $1 and name = $2 and revision = $8
			returning revision
		)
		update pgsecrets.secrets set ciphertext = $3, kid = $4, bound = true, description = '', category = $5, requires_restart = $7,
			revision = revision + 1, updated_at = now(), updated_by = $6, last_action = 'update'
		where project = $1 and name = $2 and revision = (select revision from kept)`
	floorLockHead   = `select seq, mac, now(), session_user from pgsecrets.audit_head for update`
	floorAuditEvent = `insert into pgsecrets.audit_events (seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
)

func (f *floor) write(ctx context.Context, _ int, name string, update bool, expected int64, value []byte) (int64, error) {
	next, action, sql := int64(1), audit.ActionSecretCreate, floorCreate
	if update {
		next, action, sql = expected+1, audit.ActionSecretUpdate, floorUpdate
	}
	token, kid, err := f.ring.Encrypt(value, keyring.SecretBinding(project, name, next))
	if err != nil {
		return 0, err
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // after a commit, a no-op
	args := []any{project, name, token, kid, f.category, f.actor, f.restart}
	if update {
		args = append(args, expected)
	}
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() != 1 {
		return 0, errors.New("conflict: the secret exists, has history, or moved past the expected revision")
	}
	e := &audit.Event{Actor: f.actor, Action: action, Project: project, Subject: name,
		Details: audit.Details(map[string]any{"kid": kid, "revision": next, "category": f.category, "requires_restart": f.restart})}
	var (
		seq int64
		mac string
	)
	if err := tx.QueryRow(ctx, floorLockHead).Scan(&seq, &mac, &e.At, &e.DBRole); err != nil {
		return 0, err
	}
	audit.Seal(f.chain, f.key, seq, mac, e)
	if _, err := tx.Exec(ctx, floorAuditEvent, e.Seq, e.At, e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC); err != nil {
		return 0, err
	}
	return next, tx.Commit(ctx)
}
