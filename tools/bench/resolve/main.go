// Command resolve benchmarks resolving a JSON config of -refs secret
// references ({"$secretRef": {"name": "..."}}, one per secret) against the
// floor of any resolution: one
//
//	select name, revision, ciphertext from secrets where project = $1 and name = any($2)
//
// of the same rows, each decrypted in-process with the same keys (the
// revision is selected because the ciphertext is bound to it: a decrypt
// without it is not a correct one), the project's key read and unwrapped
// the first time a row names it. Nothing less can hand back the values.
//
// Two products resolve configs, and each is measured where it can be
// measured without something bigger drowning it:
//
//   - pgsecrets_resolved_config, the data source. Through a real
//     `terraform plan` the figure would be mostly Terraform's own (its start,
//     graph walk, state, the plugin handshake), and the data source's share
//     would vanish in the noise. So it is measured in-process, twice:
//     "resolve" is the resolution function its Read calls, on a store opened
//     as the provider's Configure opens it (settings.Open): secretref.Resolve
//     with store.GetValues as the lookup, the same calls with the same
//     arguments as resolvedConfigModel.resolve (unexported, so its few lines
//     of glue are copied here). That is the row with the target. The second
//     row drives the provider through the tfprotov6 server Terraform talks to
//     over gRPC (providerserver -> framework -> the data source's Read):
//     configured once, untimed, then one ValidateDataResourceConfig and one
//     ReadDataSource, timed, the calls a plan makes for the data source. It
//     adds what the plugin framework costs (decoding the config, validating
//     it, building the state: rendered, references, sources), which every
//     plan pays too; it has no target, it shows that share. The floor of both
//     is the select and decrypts above, timed the same way in a process of
//     its own; connecting and configuring are timed in none of them.
//   - `pgsecrets render`, the CLI: the built binary run as a child process,
//     its whole wall time (start, settings, connect, schema and root key
//     checks, the read and its audit event, rendering, writing the output to
//     a file, a line per name on stderr). Its floor is the same plain program
//     as above, timed as a whole process: start, connect, select, decrypt,
//     exit.
//
// Both run against a store on project keys, as every new store is. The
// same refs are also resolved in a store not yet on project keys (secrets
// under the root key directly, as in a store upgraded with data before
// `reencrypt` moves it): today's resolution, which project keys are held
// to within 1.05x, for render (a fresh process, which reads and unwraps
// the project's key once) and for the resolution in process, first (with
// that unwrap) and in its steady state (-steady more runs in the same
// process, the key in memory).
//
// Each measured path runs in a child process of its own (this program run
// again with -child, or the binary), so each peak RSS is its own. The
// in-process children run with Go's default GC settings, as the provider
// does (render tunes its own), unless GOGC or GOMEMLIMIT is set. The
// secrets are seeded through store.PutSecret, untimed. Every run runs each
// contender once. The table with the targets shows, per row, the median of
// -runs runs (each run's ratio taken against the floor of the same run,
// side by side) and the spread of those ratios, since a shared machine
// moves single runs by a few tenths; the comparison with a store not yet on
// project keys reports the best of each. -cpuprofile DIR then profiles each
// path, -repeat times in one
// process (render through cli.Execute, in-process), for `go tool pprof`.
//
//	go run ./tools/bench/resolve -refs 10000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/cli"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/provider"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// maxRatio is the target: each path within this factor of its floor, in
// the median of the runs.
const maxRatio = 1.3

// maxLegacyRatio is the target of project keys: a resolution within this
// factor of the same in a store not yet on project keys.
const maxLegacyRatio = 1.05

const (
	project    = "bench-resolve"
	dataSource = "pgsecrets_resolved_config"
)

func main() {
	refs := flag.Int("refs", 10000, "secret references in the config (one secret each)")
	runs := flag.Int("runs", 3, "runs of each contender; the median and the spread are reported")
	dbURL := flag.String("database-url", "", "server to use (a user that may create databases); default: a throwaway one")
	bin := flag.String("bin", "", "pgsecrets binary to measure (default: build this module's)")
	profile := flag.String("cpuprofile", "", "after measuring, write CPU profiles of each path, repeated -repeat times in one process, into this directory")
	repeat := flag.Int("repeat", 20, "with -cpuprofile, how many times each path runs in its profiled process")
	keep := flag.Bool("keep", false, "keep the work directory (binary, root keys, config, last output)")
	steady := flag.Int("steady", 5, "runs of each in-process path after its first, in the same process; the best is its steady state")
	var c childOptions
	flag.StringVar(&c.mode, "child", "", "internal: run one path in this process (floor, resolve, datasource, render) and print its result")
	flag.StringVar(&c.url, "url", "", "internal: with -child, the database")
	flag.StringVar(&c.keysFile, "keys-file", "", "internal: with -child, the root keys file")
	flag.StringVar(&c.configFile, "config", "", "internal: with -child, the config file")
	flag.StringVar(&c.profile, "child-cpuprofile", "", "internal: with -child, write a CPU profile of the timed section to this file")
	flag.Parse()
	c.steady = *steady
	if *refs < 1 || *runs < 1 || *repeat < 1 || *steady < 0 || c.mode == "" && *steady < 1 {
		fmt.Fprintln(os.Stderr, "bench resolve: -refs, -runs, -repeat and -steady must be at least 1")
		os.Exit(2)
	}
	ctx := context.Background()
	var err error
	if c.mode != "" {
		c.refs, c.repeat = *refs, *repeat
		err = runChild(ctx, c)
	} else {
		err = run(ctx, *refs, *runs, *repeat, *steady, *dbURL, *bin, *profile, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench resolve:", err)
		os.Exit(1)
	}
}

func secretName(i int) string  { return fmt.Sprintf("SECRET_%06d", i) }
func secretValue(i int) []byte { return []byte(fmt.Sprintf("sk_live_%032d", i)) }
func secretNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = secretName(i)
	}
	return names
}

// config is a flat JSON object of refs members, each a reference.
func config(refs int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range refs {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `"key_%06d": {"$secretRef": {"name": %q}}`, i, secretName(i))
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// childResult is what a child reports of its timed section.
type childResult struct {
	Op       time.Duration // wall time of the timed section
	CPU      time.Duration // this process's CPU during it
	Resolved int
	// Steady is the best of -steady more runs in the same process, after
	// the timed one: its keys are in memory, its connections open.
	Steady time.Duration
}

// best is a contender's best run: of the timed section, for in-process
// children, and of the whole process, each the best of its own.
type best struct {
	op, opCPU time.Duration
	opRSS     int64
	steady    time.Duration
	proc      benchkit.Run
}

// sample is one run of a contender: its timed section (in-process
// children) and its whole process.
type sample struct {
	op, opCPU time.Duration
	proc      benchkit.Run
}

// series is a contender's runs, in order.
type series []sample

// rowFigures is what the table shows of a contender against its floor, run by
// run: the medians of the figures, the median of the ratios and their
// spread, the highest peak RSS.
type rowFigures struct {
	wall, cpu                 time.Duration
	ratio, minRatio, maxRatio float64
	cpuRatio                  float64
	rss                       int64
}

func figures(of, floor series, whole bool) rowFigures {
	pick := func(x sample) (time.Duration, time.Duration, int64) {
		if whole {
			return x.proc.Wall, x.proc.CPU, x.proc.PeakRSS
		}
		return x.op, x.opCPU, x.proc.PeakRSS
	}
	var (
		walls, cpus       []time.Duration
		ratios, cpuRatios []float64
		f                 rowFigures
	)
	for i := range of {
		w, c, rss := pick(of[i])
		fw, fc, _ := pick(floor[i])
		walls, cpus = append(walls, w), append(cpus, c)
		ratios, cpuRatios = append(ratios, w.Seconds()/fw.Seconds()), append(cpuRatios, c.Seconds()/fc.Seconds())
		f.rss = max(f.rss, rss)
	}
	f.wall, f.cpu = median(walls), median(cpus)
	f.ratio, f.cpuRatio = median(ratios), median(cpuRatios)
	f.minRatio, f.maxRatio = slices.Min(ratios), slices.Max(ratios)
	return f
}

// median is the middle value (the mean of the two middle ones for an even
// count).
func median[T time.Duration | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (b *best) add(proc benchkit.Run, op, cpu, steady time.Duration) {
	if op > 0 && (b.op == 0 || op < b.op) {
		b.op, b.opCPU, b.opRSS = op, cpu, proc.PeakRSS
	}
	if steady > 0 && (b.steady == 0 || steady < b.steady) {
		b.steady = steady
	}
	if b.proc.Wall == 0 || proc.Wall < b.proc.Wall {
		b.proc = proc
	}
}

func run(ctx context.Context, refs, runs, repeat, steady int, dbURL, bin, profile string, keep bool) error {
	ws, err := benchkit.Begin(ctx, "resolve", dbURL)
	if err != nil {
		return err
	}
	ws.Keep = keep
	defer ws.Close()
	tmp, srv, key, keysFile := ws.Dir, ws.Server, ws.Key, ws.KeysFile
	if bin == "" {
		if bin, err = benchkit.BuildPgsecrets(tmp); err != nil {
			return err
		}
	}
	url, err := seed(ctx, srv, key, "bench_resolve", refs, false)
	if err != nil {
		return err
	}
	legacyURL, err := seed(ctx, srv, key, "bench_resolve_legacy", refs, true)
	if err != nil {
		return err
	}
	configFile := filepath.Join(tmp, "config.json")
	if err := os.WriteFile(configFile, config(refs), 0o600); err != nil {
		return err
	}

	// The in-process paths, each in a child of its own, and render.
	// The last is today's resolution, of the same refs in a store not yet
	// on project keys, which the first use of a project key is held to.
	// Only these run -steady more times: the others' whole process is
	// timed too, and must be one run.
	inProcess := []struct {
		mode, what     string
		legacy, steady bool
		best           best
		runs           series
	}{
		{mode: "floor", what: "floor decrypted"},
		{mode: "resolve", what: "the resolution resolved", steady: true},
		{mode: "datasource", what: "the data source resolved"},
		{mode: "resolve", what: "the resolution resolved in the legacy store", legacy: true, steady: true},
	}
	var (
		render, renderLegacy best
		renderRuns           series
	)
	childArgs := []string{"-refs", fmt.Sprint(refs), "-keys-file", keysFile, "-config", configFile}
	for i := range runs {
		fmt.Fprintf(os.Stderr, "run %d of %d...\n", i+1, runs)
		// Odd runs go the other way round, so that neither store's paths
		// always run after the other's.
		order := []int{0, 1, 2, 3}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, j := range order {
			c := &inProcess[j]
			u, n := url, 0
			if c.legacy {
				u = legacyURL
			}
			if c.steady {
				n = steady
			}
			var res childResult
			p, err := benchkit.RunSelf(tmp, &res, append([]string{"-child", c.mode, "-url", u, "-steady", fmt.Sprint(n)}, childArgs...)...)
			if err != nil {
				return fmt.Errorf("%s: %w", c.mode, err)
			}
			if res.Resolved != refs {
				return fmt.Errorf("%s %d secrets, want %d", c.what, res.Resolved, refs)
			}
			c.best.add(p, res.Op, res.CPU, res.Steady)
			c.runs = append(c.runs, sample{res.Op, res.CPU, p})
		}
		renders := []struct {
			url  string
			best *best
			runs *series
		}{{url, &render, &renderRuns}, {legacyURL, &renderLegacy, nil}}
		if i%2 == 1 {
			slices.Reverse(renders)
		}
		for _, r := range renders {
			p, err := runRender(bin, tmp, r.url, keysFile, configFile, refs)
			if err != nil {
				return fmt.Errorf("render: %w", err)
			}
			r.best.add(p, 0, 0, 0)
			if r.runs != nil {
				*r.runs = append(*r.runs, sample{proc: p})
			}
		}
	}
	resolve, resolveLegacy := inProcess[1].best, inProcess[3].best

	fmt.Printf("resolve benchmark: %d references to %d secrets, median of %d runs each, %d CPUs, load %s\n",
		refs, refs, runs, runtime.NumCPU(), benchkit.Load())
	fmt.Printf("  %-44s  %8s  %7s  %13s  %10s  %8s  %9s  %10s  %s\n", "", "wall", "ratio", "spread", "refs/s", "CPU", "CPU ratio", "peak RSS", fmt.Sprintf("target (%.1fx)", maxRatio))
	failed := false
	const (
		isFloor = iota
		hasTarget
		noTarget
	)
	row := func(name string, of, floor series, whole bool, kind int) {
		f := figures(of, floor, whole)
		verdict := "(floor)"
		switch kind {
		case hasTarget:
			verdict = benchkit.Verdict(f.ratio <= maxRatio)
			failed = failed || f.ratio > maxRatio
		case noTarget:
			verdict = "(no target: includes the framework)"
		}
		fmt.Printf("  %-44s  %7.3fs  %6.2fx  %5.2fx-%5.2fx  %10.0f  %7.3fs  %8.2fx  %10s  %s\n", name, f.wall.Seconds(), f.ratio, f.minRatio, f.maxRatio,
			float64(refs)/f.wall.Seconds(), f.cpu.Seconds(), f.cpuRatio, benchkit.MiB(f.rss), verdict)
	}
	floorRuns, resolveRuns, dsRuns := inProcess[0].runs, inProcess[1].runs, inProcess[2].runs
	fmt.Println("in process, the data source's work (Terraform, gRPC and connecting excluded):")
	row("floor: select + decrypt", floorRuns, floorRuns, false, isFloor)
	row("resolve: secretref.Resolve + GetValues", resolveRuns, floorRuns, false, hasTarget)
	row(dataSource+": validate + read", dsRuns, floorRuns, false, noTarget)
	fmt.Println("whole process, the CLI:")
	row("floor: start, connect, select, decrypt", floorRuns, floorRuns, true, isFloor)
	row("pgsecrets render", renderRuns, floorRuns, true, hasTarget)
	fmt.Println("wall, CPU: medians of the runs; ratio: the median of each run's ratio to the floor of the same run; spread: the lowest and highest of those ratios;")
	fmt.Println("CPU ratio: the median of each run's CPU against its floor's, the figure a loaded machine moves least; peak RSS: the highest of the runs.")
	fmt.Println("floor: `select name, revision, ciphertext from secrets where project = $1 and name = any($2)`, a keyring decrypt per row, in a plain pgx program;")
	fmt.Println("resolve: what the data source's Read calls (resolvedConfigModel.resolve), on a store opened as the provider opens it;")
	fmt.Println(dataSource + ": ValidateDataResourceConfig + ReadDataSource on the provider's tfprotov6 server, in-process;")
	fmt.Println("in process: the timed section of a child process; CPU: that process's user+system time during it; peak RSS: the whole child's;")
	fmt.Println("whole process: a child's wall time from start to exit, CPU its user+system time, peak RSS from getrusage.")

	fmt.Println("project keys against today's resolution: the same refs in a store not yet on project keys (secrets under the root key), best of each:")
	fmt.Printf("  %-44s  %8s  %12s  %7s  %10s  %s\n", "", "today", "project keys", "ratio", "peak RSS", "target (1.05x)")
	legacyRow := func(name string, today, now time.Duration, rss int64) {
		ratio := now.Seconds() / today.Seconds()
		failed = failed || ratio > maxLegacyRatio
		fmt.Printf("  %-44s  %7.3fs  %11.3fs  %6.3fx  %10s  %s\n", name, today.Seconds(), now.Seconds(), ratio,
			benchkit.MiB(rss), benchkit.Verdict(ratio <= maxLegacyRatio))
	}
	legacyRow("pgsecrets render, a fresh process", renderLegacy.proc.Wall, render.proc.Wall, render.proc.PeakRSS)
	legacyRow("resolve, first in its process", resolveLegacy.op, resolve.op, resolve.opRSS)
	legacyRow(fmt.Sprintf("resolve, steady state (best of %d more)", steady), resolveLegacy.steady, resolve.steady, resolve.opRSS)
	fmt.Println("render, and the first resolve in a process, read the project key's row and unwrap it once (today: nothing to unwrap);")
	fmt.Println("the steady state is the same process resolving again, the project key in memory: a provider's second data source, a dashboard's next page.")
	if failed {
		fmt.Println("at least one target missed")
	}
	if profile != "" {
		return writeProfiles(tmp, profile, repeat, append([]string{"-url", url}, childArgs...))
	}
	return nil
}

// runRender runs `pgsecrets render` as Terraform users' scripts would, its
// output to a file, and checks the output. Its stderr, a line per name,
// goes to a file too.
func runRender(bin, tmp, url, keysFile, configFile string, refs int) (benchkit.Run, error) {
	outFile, errFile := filepath.Join(tmp, "rendered.json"), filepath.Join(tmp, "render.stderr")
	out, err := os.Create(outFile)
	if err != nil {
		return benchkit.Run{}, err
	}
	defer out.Close()
	errOut, err := os.Create(errFile)
	if err != nil {
		return benchkit.Run{}, err
	}
	defer errOut.Close()
	cmd := exec.Command(bin, "--database-url", url, "--root-keys-file", keysFile, "render", "--project", project, "--config", configFile)
	cmd.Env = append(os.Environ(), "PGSECRETS_ACTOR=bench")
	cmd.Stdout, cmd.Stderr = out, errOut
	r, err := benchkit.RunCmd(cmd)
	if err != nil {
		msg, _ := os.ReadFile(errFile)
		return benchkit.Run{}, fmt.Errorf("%w\n%s", err, msg)
	}
	return r, checkRendered(outFile, refs)
}

// writeProfiles runs each path -repeat times in a process of its own, with
// a CPU profile of those runs: one run is too short for a profile to say
// much. render runs in-process here, through cli.Execute, the binary's own
// entry point after main.
func writeProfiles(tmp, dir string, repeat int, childArgs []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, mode := range []string{"floor", "resolve", "datasource", "render"} {
		file, err := filepath.Abs(filepath.Join(dir, mode+".pprof"))
		if err != nil {
			return err
		}
		var res childResult
		args := append([]string{"-child", mode, "-child-cpuprofile", file, "-repeat", fmt.Sprint(repeat)}, childArgs...)
		if _, err := benchkit.RunSelf(tmp, &res, args...); err != nil {
			return fmt.Errorf("profile %s: %w", mode, err)
		}
		fmt.Printf("CPU profile of %d runs of %s in one process (%.3fs each): %s\n", repeat, mode, res.Op.Seconds()/float64(repeat), file)
	}
	return nil
}

// checkRendered checks that render wrote every value.
func checkRendered(file string, refs int) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		return fmt.Errorf("output is not a JSON object of strings: %w", err)
	}
	if len(got) != refs || got[fmt.Sprintf("key_%06d", refs-1)] != string(secretValue(refs-1)) {
		return fmt.Errorf("output has %d members, want %d with their values", len(got), refs)
	}
	return nil
}

// childOptions are a child's flags.
type childOptions struct {
	mode, url, keysFile, configFile, profile string
	refs, repeat, steady                     int
}

// runChild runs one path: once, timed, normally; -repeat times, timed and
// profiled as a whole, with -child-cpuprofile.
func runChild(ctx context.Context, c childOptions) error {
	if c.profile == "" {
		c.repeat = 1
	}
	keysJSON, err := os.ReadFile(c.keysFile)
	if err != nil {
		return err
	}
	var p path
	switch c.mode {
	case "floor":
		p, err = prepareFloor(ctx, c.url, keysJSON, c.refs)
	case "resolve":
		p, err = prepareResolve(ctx, c.url, keysJSON, c.configFile)
	case "datasource":
		p, err = prepareDataSource(ctx, c.url, keysJSON, c.configFile)
	case "render":
		p, err = prepareRender(ctx, c)
	default:
		err = fmt.Errorf("unknown -child %q", c.mode)
	}
	if err != nil {
		return err
	}
	defer p.done()
	stopProfile, err := benchkit.CPUProfile(c.profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	start, cpu := time.Now(), benchkit.CPUTime()
	for range c.repeat {
		if err := p.run(); err != nil {
			return err
		}
	}
	res := childResult{Op: time.Since(start), CPU: benchkit.CPUTime() - cpu}
	stopProfile() // before the check, which is no part of the path
	if c.profile == "" {
		for range c.steady {
			t := time.Now()
			if err := p.run(); err != nil {
				return err
			}
			if d := time.Since(t); res.Steady == 0 || d < res.Steady {
				res.Steady = d
			}
		}
	}
	if res.Resolved, err = p.check(); err != nil {
		return err
	}
	return benchkit.Emit(res)
}

// path is one measured path, ready to run: run is the timed work, check
// verifies its last result and counts the references resolved, done
// releases it.
type path struct {
	run   func() error
	check func() (int, error)
	done  func()
}

// prepareFloor is the least any resolution does: one query for every name,
// one decrypt per row, and, the first time a row names a project key this
// process does not hold, one query for that key's row and its unwrap (as
// the store does, once per key per process).
func prepareFloor(ctx context.Context, url string, keysJSON []byte, refs int) (path, error) {
	ring, err := keyring.Load(keysJSON)
	if err != nil {
		return path{}, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return path{}, err
	}
	names := secretNames(refs)
	type value struct {
		name  string
		value []byte
	}
	type row struct {
		name, token string
		revision    int64
	}
	var values []value
	run := func() error {
		rows, err := conn.Query(ctx, "select name, revision, ciphertext from "+store.DefaultSchema+".secrets where project = $1 and name = any($2)", project, names)
		if err != nil {
			return err
		}
		// Collected first: a key looked up midway needs the connection.
		read, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.name, &x.revision, &x.token)
		})
		if err != nil {
			return err
		}
		values = make([]value, 0, len(read))
		for _, x := range read {
			binding := keyring.SecretBinding(project, x.name, x.revision)
			d, err := ring.DecryptInProject(x.token, binding, project)
			var unknown *keyring.UnknownKIDError
			if errors.As(err, &unknown) {
				if err = openProjectKey(ctx, conn, ring, unknown.KID); err == nil {
					d, err = ring.DecryptInProject(x.token, binding, project)
				}
			}
			if err != nil {
				return fmt.Errorf("decrypt %s: %w", x.name, err)
			}
			values = append(values, value{x.name, d.Plaintext})
		}
		return nil
	}
	check := func() (int, error) {
		for _, v := range values {
			if v.name == secretName(refs-1) && string(v.value) != string(secretValue(refs-1)) {
				return 0, fmt.Errorf("%s decrypted to the wrong value", v.name)
			}
		}
		return len(values), nil
	}
	return path{run, check, func() { conn.Close(ctx) }}, nil
}

// openProjectKey reads the project key named kid, of the benchmark's
// project, unwraps it and adds it to ring.
func openProjectKey(ctx context.Context, conn *pgx.Conn, ring *keyring.Keyring, kid string) error {
	var (
		state, wrapped string
		revision       int64
	)
	err := conn.QueryRow(ctx, "select state, revision, wrapped_key from "+store.DefaultSchema+".project_keys where kid = $1 and project = $2",
		kid, project).Scan(&state, &revision, &wrapped)
	if err != nil {
		return fmt.Errorf("read project key %s: %w", kid, err)
	}
	key, err := ring.UnwrapProjectKey(project, kid, state, revision, wrapped)
	if err != nil {
		return err
	}
	return ring.AddProjectKey(project, key)
}

// prepareResolve opens a store as the provider's Configure does and times
// what the data source's Read calls, resolvedConfigModel.resolve:
// secretref.Resolve of the config with store.GetValues as its lookup, the
// same calls with the same arguments (the glue is copied from
// internal/provider/data_source_resolved_config.go, which keeps it
// unexported).
func prepareResolve(ctx context.Context, url string, keysJSON []byte, configFile string) (path, error) {
	doc, err := os.ReadFile(configFile)
	if err != nil {
		return path{}, err
	}
	st, _, err := settings.Open(ctx, settings.Explicit{
		DatabaseURL: url, RootKeysJSON: string(keysJSON), Actor: "bench",
		ApplicationName: "pgsecrets-terraform", DatabaseURLSetting: "database_url", RequireRootKeys: true,
	})
	if err != nil {
		return path{}, err
	}
	var res secretref.Result
	run := func() error {
		res, err = secretref.Resolve(ctx, doc, secretref.Options{
			Lookup: func(names []string) ([][]byte, error) {
				return st.LookupValues(ctx, project, names, "terraform data source pgsecrets_resolved_config")
			},
		})
		return err
	}
	check := func() (int, error) {
		if !bytes.Contains(res.Rendered, secretValue(len(res.References)-1)) {
			return 0, errors.New("the rendered config lacks the values")
		}
		return len(res.References), nil
	}
	return path{run, check, st.Close}, nil
}

// prepareDataSource configures the provider through its protocol server,
// as Terraform does; the timed work is the calls a plan makes for one
// pgsecrets_resolved_config: validate its config, read it.
func prepareDataSource(ctx context.Context, url string, keysJSON []byte, configFile string) (path, error) {
	doc, err := os.ReadFile(configFile)
	if err != nil {
		return path{}, err
	}
	srv, err := providerserver.NewProtocol6WithError(provider.New("bench")())()
	if err != nil {
		return path{}, err
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return path{}, err
	}
	if err := diagnosticsError("get schema", schemas.Diagnostics); err != nil {
		return path{}, err
	}
	dsSchema := schemas.DataSourceSchemas[dataSource]
	if dsSchema == nil || schemas.Provider == nil {
		return path{}, fmt.Errorf("the provider has no %s data source", dataSource)
	}
	providerConfig, err := dynamicValue(schemas.Provider.ValueType(), map[string]any{
		"database_url": url, "root_keys": string(keysJSON), "actor": "bench",
	})
	if err != nil {
		return path{}, err
	}
	configured, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.11.0", Config: providerConfig})
	if err != nil {
		return path{}, err
	}
	if err := diagnosticsError("configure the provider", configured.Diagnostics); err != nil {
		return path{}, err
	}
	dsType := dsSchema.ValueType()
	dsConfig, err := dynamicValue(dsType, map[string]any{"project": project, "config": string(doc)})
	if err != nil {
		return path{}, err
	}

	var read *tfprotov6.ReadDataSourceResponse
	run := func() error {
		validated, err := srv.ValidateDataResourceConfig(ctx, &tfprotov6.ValidateDataResourceConfigRequest{TypeName: dataSource, Config: dsConfig})
		if err != nil {
			return err
		}
		if err := diagnosticsError("validate", validated.Diagnostics); err != nil {
			return err
		}
		if read, err = srv.ReadDataSource(ctx, &tfprotov6.ReadDataSourceRequest{TypeName: dataSource, Config: dsConfig}); err != nil {
			return err
		}
		return diagnosticsError("read", read.Diagnostics)
	}
	check := func() (int, error) {
		if read.State == nil {
			return 0, errors.New("read returned no state")
		}
		state, err := read.State.Unmarshal(dsType)
		if err != nil {
			return 0, err
		}
		var attrs map[string]tftypes.Value
		if err := state.As(&attrs); err != nil {
			return 0, err
		}
		var references []tftypes.Value
		if err := attrs["references"].As(&references); err != nil {
			return 0, err
		}
		var rendered string
		if err := attrs["rendered"].As(&rendered); err != nil {
			return 0, err
		}
		if !strings.Contains(rendered, string(secretValue(len(references)-1))) {
			return 0, errors.New("the rendered config lacks the values")
		}
		return len(references), nil
	}
	stop := func() {
		_, _ = srv.StopProvider(ctx, &tfprotov6.StopProviderRequest{})
	}
	return path{run, check, stop}, nil
}

// prepareRender runs `pgsecrets render` in this process, through
// cli.Execute, the binary's own entry point after main: for profiles only,
// the figures come from the real binary.
func prepareRender(ctx context.Context, c childOptions) (path, error) {
	// stderr is a file, as in the real process, where each name's line is
	// a write of its own.
	errOut, err := os.CreateTemp("", "render-stderr-")
	if err != nil {
		return path{}, err
	}
	var out bytes.Buffer
	run := func() error {
		out.Reset()
		if err := errOut.Truncate(0); err != nil {
			return err
		}
		if _, err := errOut.Seek(0, 0); err != nil {
			return err
		}
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errOut}
		if code := cli.Execute(ctx, ios, "bench", []string{"--database-url", c.url, "--root-keys-file", c.keysFile, "--actor", "bench",
			"render", "--project", project, "--config", c.configFile}); code != 0 {
			msg, _ := os.ReadFile(errOut.Name())
			return fmt.Errorf("render exited with %d: %.2000s", code, msg)
		}
		return nil
	}
	check := func() (int, error) {
		var got map[string]string
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			return 0, err
		}
		return len(got), nil
	}
	done := func() {
		errOut.Close()
		os.Remove(errOut.Name())
	}
	return path{run, check, done}, nil
}

// dynamicValue encodes an object of type typ with the given attributes,
// every other attribute null.
func dynamicValue(typ tftypes.Type, set map[string]any) (*tfprotov6.DynamicValue, error) {
	obj, ok := typ.(tftypes.Object)
	if !ok {
		return nil, fmt.Errorf("schema type %s is not an object", typ)
	}
	vals := make(map[string]tftypes.Value, len(obj.AttributeTypes))
	for name, t := range obj.AttributeTypes {
		vals[name] = tftypes.NewValue(t, set[name]) // nil: null
	}
	for name := range set {
		if _, ok := obj.AttributeTypes[name]; !ok {
			return nil, fmt.Errorf("schema has no attribute %q", name)
		}
	}
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, vals))
	if err != nil {
		return nil, err
	}
	return &dv, nil
}

// diagnosticsError is the error diagnostics, if any, as one error.
func diagnosticsError(what string, diags []*tfprotov6.Diagnostic) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			msgs = append(msgs, d.Summary+": "+d.Detail)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", what, strings.Join(msgs, "; "))
}

// seed makes a database of refs secrets of the benchmark's project, written
// through store.PutSecret: under the project's key, or with legacy, in the
// state of a store upgraded with data and not yet moved to project keys
// (as storetest.NewLegacyDB makes it), under the root key directly.
func seed(ctx context.Context, srv *benchkit.Server, key *keyring.Key, name string, refs int, legacy bool) (string, error) {
	st, url, err := benchkit.NewStoreDatabase(ctx, srv, name, key, int32(benchkit.Workers()))
	if err != nil {
		return "", err
	}
	if legacy {
		// The store reads the scheme when it writes; a store opened afresh
		// leaves no doubt.
		// The move to project keys is one way: as the owner, the bench
		// steps past the trigger that keeps it so, as storetest does.
		table := store.DefaultSchema + ".key_scheme"
		_, err = st.Pool().Exec(ctx, "alter table "+table+" disable trigger key_scheme_one_way; update "+table+
			" set project_keys_since = null; alter table "+table+" enable trigger key_scheme_one_way")
		st.Close()
		if err != nil {
			return "", err
		}
		ring, err := keyring.New([]*keyring.Key{key})
		if err != nil {
			return "", err
		}
		cfg := store.Config{DatabaseURL: url, Schema: store.DefaultSchema, Actor: "bench", MaxConns: int32(benchkit.Workers())}
		if st, err = store.Open(ctx, cfg, ring); err != nil {
			return "", err
		}
	}
	defer st.Close()
	if err := benchkit.SeedSecrets(ctx, st, project, refs, benchkit.Workers(), secretName, secretValue); err != nil {
		return "", err
	}
	// Each store is in the state it is meant to be in.
	var underRoot, projectKeys int64
	if err := st.Pool().QueryRow(ctx, "select (select count(*) from "+store.DefaultSchema+".secrets where kid = $1), (select count(*) from "+store.DefaultSchema+".project_keys)",
		key.KID).Scan(&underRoot, &projectKeys); err != nil {
		return "", err
	}
	if legacy && (underRoot != int64(refs) || projectKeys != 0) || !legacy && (underRoot != 0 || projectKeys != 1) {
		return "", fmt.Errorf("%s: %d secrets under the root key, %d project keys: not the store it should be", name, underRoot, projectKeys)
	}
	return url, benchkit.Settle(ctx, st)
}
