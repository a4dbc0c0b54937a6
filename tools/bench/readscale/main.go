// Command readscale benchmarks reads that scale out to a standby: -processes
// `pgsecrets run` processes started at once (services starting together),
// each resolving the -secrets secrets of one project and running `true`,
// against
//
//   - the primary alone (PGSECRETS_DATABASE_URL only), and
//   - the primary plus its hot standby (PGSECRETS_READ_URL naming the
//     standby): the values are read there, every audit event is still
//     written on the primary.
//
// Each setup reports the wall time of one process (p50, p99, max: from
// its start to its exit, which is what a service waits for), the wall time
// of the whole wave, and the CPU time the primary's server processes (and
// the standby's) used meanwhile, read from /proc: the postmaster, its live
// children and the children it reaped. The primary's CPU is what a read
// URL takes off the primary; audit events stay there, so it cannot go to
// zero. Both setups run on the same pair of throwaway servers (streaming
// replication, asynchronous), alternately, -runs times each; the run with
// the lower p50 is reported. Both servers share this machine's CPUs with
// the processes, so the wall times include the standby's work: the
// primary's CPU time is the figure that carries over to separate machines.
//
// Every process's audit event is checked to be on the primary afterwards:
// one secret.read event per process and setup.
//
//	go run ./tools/bench/readscale -processes 200 -secrets 50
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

const project = "bench-readscale"

func main() {
	processes := flag.Int("processes", 200, "`pgsecrets run` processes started at once")
	secrets := flag.Int("secrets", 50, "secrets each process resolves (every secret of the project)")
	runs := flag.Int("runs", 1, "waves of each setup, alternating; the one with the lower p50 is reported")
	flag.Parse()
	if *processes < 1 || *secrets < 1 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench readscale: -processes, -secrets and -runs must be at least 1")
		os.Exit(2)
	}
	if err := run(context.Background(), *processes, *secrets, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench readscale:", err)
		os.Exit(1)
	}
}

// setup is one way of running the wave.
type setup struct {
	name string
	env  []string // besides the database URL and root keys
}

// wave is what one wave of processes cost.
type wave struct {
	walls            []time.Duration // per process, sorted
	total            time.Duration
	primary, standby time.Duration // server CPU
	failures         int
	firstFailure     string
	readsAudited     int64
	readsFromReadURL int64
}

func run(ctx context.Context, processes, secrets, runs int) error {
	dir, err := os.MkdirTemp("", "bench-readscale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "starting a primary and a streaming standby...")
	cluster := benchkit.StartReplicated()
	defer cluster.Stop()

	key, keysFile, _, err := benchkit.RootKeys(dir)
	if err != nil {
		return err
	}
	st, primaryURL, err := benchkit.NewStoreDatabase(ctx, &benchkit.Server{URL: cluster.Primary().URL()}, "readscale", key, 0)
	if err != nil {
		return err
	}
	err = benchkit.SeedSecrets(ctx, st, project, secrets, benchkit.Workers(),
		func(i int) string { return fmt.Sprintf("SECRET_%03d", i) },
		func(i int) []byte { return fmt.Appendf(nil, "sk_live_%03d_%040d", i, i) })
	if err == nil {
		err = benchkit.Settle(ctx, st)
	}
	st.Close()
	if err != nil {
		return err
	}
	standbyURL, err := sameDatabase(cluster.Standby().URL(), primaryURL)
	if err != nil {
		return err
	}
	// The standby's CPU is read from its copy of the database.
	cluster.WaitReplayed()
	bin, err := benchkit.BuildPgsecrets(dir)
	if err != nil {
		return err
	}
	primaryCPU, err := benchkit.ServerCPU(ctx, primaryURL)
	if err != nil {
		return err
	}
	standbyCPU, err := benchkit.ServerCPU(ctx, standbyURL)
	if err != nil {
		return err
	}
	base := []string{
		"PGSECRETS_DATABASE_URL=" + primaryURL,
		"PGSECRETS_ROOT_KEYS_FILE=" + keysFile,
		"PGSECRETS_ACTOR=bench",
		"PGSECRETS_READ_URL=",
	}
	setups := []setup{
		{name: "primary alone"},
		{name: "primary + standby (PGSECRETS_READ_URL)", env: []string{"PGSECRETS_READ_URL=" + standbyURL}},
	}
	best := make([]*wave, len(setups))
	for r := range runs {
		for i, s := range setups {
			cluster.WaitReplayed()
			w, err := runWave(ctx, bin, append(slices.Clone(base), s.env...), processes, primaryURL, primaryCPU, standbyCPU)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			fmt.Fprintf(os.Stderr, "run %d, %s: p50 %s, primary CPU %s\n", r+1, s.name, ms(w.percentile(50)), secs(w.primary))
			if best[i] == nil || w.percentile(50) < best[i].percentile(50) {
				best[i] = w
			}
		}
	}

	fmt.Printf("\nReads scaled out to a standby: %d `pgsecrets run` processes at once, each resolving %d secrets and running `true` (load %s)\n",
		processes, secrets, benchkit.Load())
	fmt.Printf("%-42s %9s %9s %9s %9s %13s %13s %9s\n", "setup", "p50", "p99", "max", "wave", "primary CPU", "standby CPU", "failed")
	for i, s := range setups {
		w := best[i]
		fmt.Printf("%-42s %9s %9s %9s %9s %13s %13s %9d\n", s.name, ms(w.percentile(50)), ms(w.percentile(99)), ms(w.walls[len(w.walls)-1]),
			ms(w.total), secs(w.primary), secs(w.standby), w.failures)
	}
	fmt.Printf("both servers run on this machine (%d CPUs, shared with the %d processes): wall times include the standby's work and each process's second connection;\n"+
		"the primary's CPU time is the figure that carries over to a standby on a machine of its own\n", runtime.NumCPU(), processes)
	a, b := best[0], best[1]
	fmt.Printf("primary CPU with the standby: %.2fx of the primary alone (%s less); p50 %.2fx, p99 %.2fx\n",
		ratio(b.primary, a.primary), secs(a.primary-b.primary), ratio(b.percentile(50), a.percentile(50)), ratio(b.percentile(99), a.percentile(99)))
	for i, s := range setups {
		w := best[i]
		ok := w.failures == 0 && w.readsAudited == int64(processes)
		fmt.Printf("%s: %d of %d processes succeeded, %d read events on the primary (%d through the read URL): %s\n",
			s.name, processes-w.failures, processes, w.readsAudited, w.readsFromReadURL, benchkit.Verdict(ok))
		if w.failures > 0 {
			fmt.Printf("  first failure: %s\n", w.firstFailure)
		}
	}
	return nil
}

// sameDatabase is server's URL naming the database that dbURL names.
func sameDatabase(server, dbURL string) (string, error) {
	db, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", err
	}
	u.Path = db.Path
	return u.String(), nil
}

// runWave starts every process at once and waits for all of them.
func runWave(ctx context.Context, bin string, env []string, processes int, primaryURL string,
	primaryCPU, standbyCPU func() (time.Duration, error)) (*wave, error) {
	before, err := readEvents(ctx, primaryURL)
	if err != nil {
		return nil, err
	}
	p0, err := primaryCPU()
	if err != nil {
		return nil, err
	}
	s0, err := standbyCPU()
	if err != nil {
		return nil, err
	}
	w := &wave{walls: make([]time.Duration, processes)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	for i := range processes {
		cmd := exec.Command(bin, "run", "--project", project, "--", "true")
		cmd.Env = append(os.Environ(), env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t := time.Now()
			err := cmd.Run()
			w.walls[i] = time.Since(t)
			if err != nil {
				mu.Lock()
				if w.failures++; w.failures == 1 {
					w.firstFailure = strings.TrimSpace(stderr.String() + " " + err.Error())
				}
				mu.Unlock()
			}
		}()
	}
	t := time.Now()
	close(start)
	wg.Wait()
	w.total = time.Since(t)
	slices.Sort(w.walls)
	p1, err := primaryCPU()
	if err != nil {
		return nil, err
	}
	s1, err := standbyCPU()
	if err != nil {
		return nil, err
	}
	w.primary, w.standby = p1-p0, s1-s0
	after, err := readEvents(ctx, primaryURL)
	if err != nil {
		return nil, err
	}
	w.readsAudited, w.readsFromReadURL = after[0]-before[0], after[1]-before[1]
	return w, nil
}

// readEvents counts the secret.read events on the primary, and those that
// say the value came through the read URL.
func readEvents(ctx context.Context, dbURL string) ([2]int64, error) {
	var n [2]int64
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return n, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `select count(*), count(*) filter (where details::jsonb ? 'read_from')
		from pgsecrets.audit_events where action = 'secret.read'`).Scan(&n[0], &n[1])
	return n, err
}

func (w *wave) percentile(p int) time.Duration {
	i := (len(w.walls)*p + 99) / 100
	return w.walls[max(0, min(len(w.walls)-1, i-1))]
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
