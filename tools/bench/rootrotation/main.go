// Command rootrotation benchmarks a root key rotation in a store on project
// keys against the floor of rotating the way every secret used to be
// rotated: a plain SQL UPDATE that rewrites every secret row.
//
// It seeds a fresh database with -secrets secrets spread over -projects
// projects, each under its project's key (made through the store, then
// unwrapped here and used to encrypt every value bound to its row, the
// rows streamed in with COPY: real ciphertexts that reencrypt plans by kid
// and the store decrypts). It times the UPDATE, then prepends a new root
// key and times the real binary's `reencrypt` as a whole process, and
// prints both with their ratio, the project keys rewrapped and the secrets
// re-encrypted (which must be -projects and 0). -tenfold runs again with
// ten times the secrets in the same projects: the floor grows tenfold,
// the rotation should not.
//
//	go run ./tools/bench/rootrotation -secrets 1000000 -projects 1000 -tenfold
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// Targets: the rotation within this fraction of the floor, and the
// binary's peak memory.
const (
	maxRatio   = 0.02
	maxPeakRSS = 100 << 20
)

func main() {
	secrets := flag.Int("secrets", 20000, "secrets to seed")
	projects := flag.Int("projects", 0, "projects the secrets are spread over (default: one per 1,000 secrets)")
	tenfold := flag.Bool("tenfold", false, "run again with ten times the secrets in the same projects")
	dbURL := flag.String("database-url", "", "server to use (a user that may create databases); default: a throwaway one")
	bin := flag.String("bin", "", "pgsecrets binary to measure (default: build this module's)")
	flag.Parse()
	if *projects == 0 {
		*projects = max(1, *secrets/1000)
	}
	if *secrets < 1 || *projects < 1 || *projects > *secrets {
		fmt.Fprintln(os.Stderr, "bench rootrotation: -secrets and -projects must be at least 1, and -projects at most -secrets")
		os.Exit(2)
	}
	if err := run(context.Background(), *secrets, *projects, *tenfold, *dbURL, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "bench rootrotation:", err)
		os.Exit(1)
	}
}

// result is one scale's figures.
type result struct {
	secrets, projects int
	update            time.Duration
	reencrypt         benchkit.Run
	sum               summary
}

// summary is what the test reads of reencrypt's JSON summary.
type summary struct {
	Reencrypted          int64   `json:"reencrypted"`
	ProjectKeysRewrapped int64   `json:"project_keys_rewrapped"`
	ElapsedSeconds       float64 `json:"elapsed_seconds"`
}

func run(ctx context.Context, secrets, projects int, tenfold bool, dbURL, bin string) error {
	ws, err := benchkit.Begin(ctx, "rootrotation", dbURL)
	if err != nil {
		return err
	}
	defer ws.Close()
	if bin == "" {
		if bin, err = benchkit.BuildPgsecrets(ws.Dir); err != nil {
			return err
		}
	}
	scales := []int{secrets}
	if tenfold {
		scales = append(scales, 10*secrets)
	}
	var results []result
	for _, n := range scales {
		res, err := measure(ctx, ws, bin, n, projects)
		if err != nil {
			return fmt.Errorf("%d secrets: %w", n, err)
		}
		results = append(results, res)
	}

	fmt.Printf("root rotation benchmark: secrets under %d project keys, a new root key prepended, %d CPUs, load %s\n",
		projects, runtime.NumCPU(), benchkit.Load())
	fmt.Printf("  %10s  %8s  %12s  %10s  %8s  %9s  %11s  %8s  %10s  %s\n",
		"secrets", "projects", "plain UPDATE", "reencrypt", "ratio", "rewrapped", "re-encrypted", "of which Run", "peak RSS", "targets (0.02x, P and 0, 100 MiB)")
	failed := false
	for _, r := range results {
		ratio := r.reencrypt.Wall.Seconds() / r.update.Seconds()
		counts := r.sum.ProjectKeysRewrapped == int64(r.projects) && r.sum.Reencrypted == 0
		ok := ratio <= maxRatio && counts && r.reencrypt.PeakRSS < maxPeakRSS
		failed = failed || !ok
		fmt.Printf("  %10d  %8d  %11.3fs  %9.3fs  %7.4fx  %9d  %11d  %11.3fs  %10s  %s / %s / %s\n",
			r.secrets, r.projects, r.update.Seconds(), r.reencrypt.Wall.Seconds(), ratio,
			r.sum.ProjectKeysRewrapped, r.sum.Reencrypted, r.sum.ElapsedSeconds, benchkit.MiB(r.reencrypt.PeakRSS),
			benchkit.Verdict(ratio <= maxRatio), benchkit.Verdict(counts), benchkit.Verdict(r.reencrypt.PeakRSS < maxPeakRSS))
	}
	if len(results) == 2 {
		a, b := results[0], results[1]
		fmt.Printf("  ten times the secrets in the same projects: the floor took %.1fx as long, the rotation %.2fx\n",
			b.update.Seconds()/a.update.Seconds(), b.reencrypt.Wall.Seconds()/a.reencrypt.Wall.Seconds())
	}
	fmt.Println("plain UPDATE: `update secrets set ciphertext = ciphertext || ''` of every secret, timed in the server (a rotation that rewrites every row);")
	fmt.Println("reencrypt: the real binary with the new root key first, wall time of the whole process (start, connect, checks, plan, rewrap, audit);")
	fmt.Println("of which Run: the time its summary reports (reencrypt.Run, without the process start and the store's opening).")
	if failed {
		fmt.Println("at least one target missed")
	}
	return nil
}

func measure(ctx context.Context, ws *benchkit.Workspace, bin string, secrets, projects int) (result, error) {
	res := result{secrets: secrets, projects: projects}
	st, url, err := benchkit.NewStoreDatabase(ctx, ws.Server, fmt.Sprintf("bench_rootrotation_%d", secrets), ws.Key, int32(benchkit.Workers()))
	if err != nil {
		return res, err
	}
	defer st.Close()
	fmt.Fprintf(os.Stderr, "%d secrets: making %d project keys...\n", secrets, projects)
	keys, err := projectKeys(ctx, st, ws.Key, projects)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "%d secrets: seeding...\n", secrets)
	start := time.Now()
	if err := seed(ctx, st, keys, secrets); err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(os.Stderr, "%d secrets: seeded in %.1fs\n", secrets, time.Since(start).Seconds())
	// The rows are real: the store reads them back under their project keys.
	if err := checkValues(ctx, st, secrets, projects); err != nil {
		return res, err
	}
	if err := benchkit.Settle(ctx, st); err != nil {
		return res, err
	}

	fmt.Fprintf(os.Stderr, "%d secrets: plain UPDATE...\n", secrets)
	start = time.Now()
	if _, err := st.Pool().Exec(ctx, "update "+store.DefaultSchema+".secrets set ciphertext = ciphertext || ''"); err != nil {
		return res, err
	}
	res.update = time.Since(start)
	if err := benchkit.Settle(ctx, st); err != nil {
		return res, err
	}

	newRoot, err := keyring.Generate(fmt.Sprintf("bench-root-%d", secrets), "dir", "A256GCM")
	if err != nil {
		return res, err
	}
	b, err := keyring.ExportRootKeys([]*keyring.Key{newRoot, ws.Key})
	if err != nil {
		return res, err
	}
	keysFile := filepath.Join(ws.Dir, fmt.Sprintf("keys-%d.json", secrets))
	if err := os.WriteFile(keysFile, b, 0o600); err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "%d secrets: pgsecrets reencrypt...\n", secrets)
	out := filepath.Join(ws.Dir, fmt.Sprintf("summary-%d.json", secrets))
	res.reencrypt, err = benchkit.RunChild(out, []string{"PGSECRETS_ACTOR=bench"}, bin,
		"--database-url", url, "--root-keys-file", keysFile, "reencrypt", "--output", "json")
	if err != nil {
		return res, err
	}
	if b, err = os.ReadFile(out); err != nil {
		return res, err
	}
	if err := json.Unmarshal(b, &res.sum); err != nil {
		return res, fmt.Errorf("reencrypt's summary is not JSON: %w (%.200q)", err, b)
	}
	var left int64
	if err := st.Pool().QueryRow(ctx, "select count(*) from "+store.DefaultSchema+".project_keys where wrapping_kid <> $1", newRoot.KID).Scan(&left); err != nil {
		return res, err
	}
	if left != 0 {
		return res, fmt.Errorf("%d project keys are still wrapped under the old root key after reencrypt", left)
	}
	return res, nil
}

func projectName(p int) string { return fmt.Sprintf("project-%04d", p) }

// projectKeys makes each project's key through the store, as its first
// write would, and returns them unwrapped, by project.
func projectKeys(ctx context.Context, st *store.Store, root *keyring.Key, projects int) ([]*keyring.Key, error) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(benchkit.Workers(), projects) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := int(next.Add(1) - 1); p < projects; p = int(next.Add(1) - 1) {
				if _, _, err := st.EnsureProjectKey(ctx, projectName(p)); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	ring, err := keyring.New([]*keyring.Key{root})
	if err != nil {
		return nil, err
	}
	rows, err := st.Pool().Query(ctx, "select project, kid, state, revision, wrapped_key from "+store.DefaultSchema+".project_keys where state = 'primary'")
	if err != nil {
		return nil, err
	}
	byProject := map[string]*keyring.Key{}
	var (
		project, kid, state, wrapped string
		revision                     int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&project, &kid, &state, &revision, &wrapped}, func() error {
		key, err := ring.UnwrapProjectKey(project, kid, state, revision, wrapped)
		byProject[project] = key
		return err
	}); err != nil {
		return nil, err
	}
	keys := make([]*keyring.Key, projects)
	for p := range keys {
		if keys[p] = byProject[projectName(p)]; keys[p] == nil {
			return nil, fmt.Errorf("%s has no primary key", projectName(p))
		}
	}
	return keys, nil
}

func secretName(i int) string  { return fmt.Sprintf("SECRET_%08d", i) }
func secretValue(i int) []byte { return []byte(fmt.Sprintf("sk_live_%032d", i)) }

// seed writes secret i to project i mod projects, encrypted under that
// project's key and bound to its row.
func seed(ctx context.Context, st *store.Store, keys []*keyring.Key, secrets int) error {
	return benchkit.CopySecrets(ctx, st.Pool(), store.DefaultSchema, secrets, func(n int) benchkit.SeedSecret {
		return benchkit.SeedSecret{Project: projectName(n % len(keys)), Name: secretName(n), Value: secretValue(n), Key: keys[n%len(keys)]}
	})
}

// checkValues reads back, through the store, the first and last secrets
// seeded: each decrypts under its project's key, bound to its row.
func checkValues(ctx context.Context, st *store.Store, secrets, projects int) error {
	for _, n := range []int{0, secrets - 1} {
		project, name := projectName(n%projects), secretName(n)
		values, err := st.GetValues(ctx, project, []string{name}, "bench check")
		if err != nil {
			return fmt.Errorf("read back %s/%s: %w", project, name, err)
		}
		if string(values[name]) != string(secretValue(n)) {
			return fmt.Errorf("%s/%s does not hold its value", project, name)
		}
	}
	return nil
}
