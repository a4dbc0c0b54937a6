// Command projectrotation benchmarks what rotating one project's key costs
// the writers of other projects: -writers goroutines write new secrets
// through store.PutSecret, each to a project of its own, without pause,
// while `reencrypt --project P --rotate-project-key` (reencrypt.Run, on a
// store of its own as another process would open it) gives project P a new
// key and re-encrypts its -secrets secrets under it.
//
// The writers run through three windows of -window each, after -warmup:
// before, during (the rotation starts at its start) and after. The floor
// is the writers' throughput alone, the mean of the windows before and
// after (which brackets the drift of a growing table); the figure is their
// throughput in the window with the rotation. A fixed window dilutes a short
// rotation, so the rotation's own length is reported too, and the writers'
// throughput while it ran, against the same floor.
//
// Every project's key exists before timing (seeded through PutSecret), so
// no window pays for a first write's key; the rotated project's values are
// read back afterwards, untimed.
//
//	go run ./tools/bench/projectrotation -secrets 1000 -writers 8
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// maxDrop is the target: the writers' throughput in the window of the
// rotation at most this much below the floor.
const maxDrop = 0.10

const rotated = "bench-rotated"

func writerProject(w int) string    { return fmt.Sprintf("bench-writer-%02d", w) }
func rotatedName(i int) string      { return fmt.Sprintf("SECRET_%06d", i) }
func rotatedValue(i int) []byte     { return []byte(fmt.Sprintf("sk_live_%032d", i)) }
func writerName(i int) string       { return fmt.Sprintf("W_%08d", i) }
func writerValue(w, i int) []byte   { return []byte(fmt.Sprintf("sk_live_w%02d_%024d", w, i)) }
func seededWriterName(i int) string { return fmt.Sprintf("SEEDED_%04d", i) }

func main() {
	secrets := flag.Int("secrets", 1000, "secrets of the project whose key is rotated")
	writers := flag.Int("writers", 8, "concurrent writers, each to a project of its own")
	window := flag.Duration("window", 3*time.Second, "length of each window: before, during and after the rotation")
	warmup := flag.Duration("warmup", time.Second, "writes before the first window, untimed")
	dbURL := flag.String("database-url", "", "server to use (a user that may create databases); default: a throwaway one")
	flag.Parse()
	if *secrets < 1 || *writers < 1 || *window <= 0 {
		fmt.Fprintln(os.Stderr, "bench projectrotation: -secrets and -writers must be at least 1, -window positive")
		os.Exit(2)
	}
	if err := run(context.Background(), *secrets, *writers, *window, *warmup, *dbURL); err != nil {
		fmt.Fprintln(os.Stderr, "bench projectrotation:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, secrets, writers int, window, warmup time.Duration, dbURL string) error {
	ws, err := benchkit.Begin(ctx, "projectrotation", dbURL)
	if err != nil {
		return err
	}
	defer ws.Close()
	seeder, url, err := benchkit.NewStoreDatabase(ctx, ws.Server, "bench_projectrotation", ws.Key, int32(benchkit.Workers()))
	if err != nil {
		return err
	}
	defer seeder.Close()
	if err := benchkit.SeedSecrets(ctx, seeder, rotated, secrets, benchkit.Workers(), rotatedName, rotatedValue); err != nil {
		return err
	}
	for w := range writers {
		if err := benchkit.SeedSecrets(ctx, seeder, writerProject(w), 10, benchkit.Workers(), seededWriterName,
			func(i int) []byte { return writerValue(w, i) }); err != nil {
			return err
		}
	}
	if err := benchkit.Settle(ctx, seeder); err != nil {
		return err
	}
	old, err := seeder.GetProjectKey(ctx, rotated)
	if err != nil {
		return err
	}

	// The writers' application and the operator's reencrypt each open the
	// store as a process of their own would: a keyring and a pool each.
	open := func(maxConns int32) (*store.Store, error) {
		ring, err := keyring.New([]*keyring.Key{ws.Key})
		if err != nil {
			return nil, err
		}
		return store.Open(ctx, store.Config{DatabaseURL: url, Schema: store.DefaultSchema, Actor: "bench", MaxConns: maxConns}, ring)
	}
	app, err := open(int32(writers))
	if err != nil {
		return err
	}
	defer app.Close()
	op, err := open(0)
	if err != nil {
		return err
	}
	defer op.Close()

	fmt.Fprintf(os.Stderr, "%d writers: %s warm-up, then 3 windows of %s...\n", writers, warmup, window)
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		done     = make([][]time.Duration, writers) // each write's completion, since t0
	)
	t0 := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				_, err := app.PutSecret(ctx, store.PutSecretInput{
					Project: writerProject(w), Name: writerName(i), Value: writerValue(w, i), ExpectedRevision: store.MustNotExist,
				})
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("writer %d, write %d: %w", w, i, err) })
					stop.Store(true)
					return
				}
				done[w] = append(done[w], time.Since(t0))
			}
		}()
	}
	sleepUntil := func(at time.Duration) { time.Sleep(time.Until(t0.Add(at))) }
	before, during, after := warmup, warmup+window, warmup+2*window
	end := warmup + 3*window

	sleepUntil(during)
	rotStart := time.Since(t0)
	sum, rotErr := reencrypt.Run(ctx, op, reencrypt.Options{Project: rotated, RotateProjectKey: true})
	rotEnd := time.Since(t0)
	sleepUntil(end)
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if rotErr != nil {
		return fmt.Errorf("reencrypt: %w", rotErr)
	}
	if err := checkRotation(ctx, seeder, sum, old.KID, secrets); err != nil {
		return err
	}

	all := slices.Concat(done...)
	slices.Sort(all)
	rate := func(from, to time.Duration) float64 {
		lo, _ := slices.BinarySearch(all, from)
		hi, _ := slices.BinarySearch(all, to)
		return float64(hi-lo) / (to - from).Seconds()
	}
	rBefore, rDuring, rAfter := rate(before, during), rate(during, after), rate(after, end)
	floor := (rBefore + rAfter) / 2
	drop := 1 - rDuring/floor
	rotation := rotEnd - rotStart
	rRotation := rate(rotStart, rotEnd)
	dropRotation := 1 - rRotation/floor

	fmt.Printf("project key rotation benchmark: %d secrets of one project re-encrypted under its new key while %d writers write to %d other projects, %d CPUs, load %s\n",
		secrets, writers, writers, runtime.NumCPU(), benchkit.Load())
	fmt.Printf("  %-46s  %8s  %9s  %8s  %s\n", "", "window", "writes/s", "drop", "target (10%)")
	fmt.Printf("  %-46s  %7.2fs  %9.0f  %8s  %s\n", "floor: writers alone (mean of before and after)", window.Seconds(), floor, "", "(floor)")
	fmt.Printf("  %-46s  %7.2fs  %9.0f  %8s\n", "  before", window.Seconds(), rBefore, "")
	fmt.Printf("  %-46s  %7.2fs  %9.0f  %8s\n", "  after", window.Seconds(), rAfter, "")
	fmt.Printf("  %-46s  %7.2fs  %9.0f  %7.1f%%  %s\n", "writers, window with the rotation", window.Seconds(), rDuring, 100*drop, benchkit.Verdict(drop <= maxDrop))
	fmt.Printf("  %-46s  %7.2fs  %9.0f  %7.1f%%  %s\n", "writers, while the rotation ran", rotation.Seconds(), rRotation, 100*dropRotation, "(no target: the rotation's own length)")
	fmt.Printf("the rotation (reencrypt.Run: a new key, %d secrets re-encrypted, the old key deleted) took %.3fs of the %.2fs window",
		sum.Reencrypted, rotation.Seconds(), window.Seconds())
	if rotation > window {
		fmt.Print(": LONGER than the window, which then understates it")
	}
	fmt.Println(";")
	fmt.Println("writes/s: PutSecret calls completed in the window, all writers, each a new secret in the writer's own project, on a pool of one connection per writer;")
	fmt.Println("reencrypt runs in the same process on a pool of its own, with its default workers and batch size.")
	if drop > maxDrop {
		fmt.Println("target missed")
	}
	return nil
}

// checkRotation checks that the rotation did what it says: a new primary
// key, every secret of the project under it and readable, the old key gone.
func checkRotation(ctx context.Context, st *store.Store, sum reencrypt.Summary, oldKID string, secrets int) error {
	if sum.Reencrypted != int64(secrets) || !slices.Equal(sum.ProjectKeysRotated, []string{rotated}) || !slices.Equal(sum.ProjectKeysDeleted, []string{oldKID}) {
		return fmt.Errorf("reencrypt re-encrypted %d secrets (want %d), rotated %v, deleted %v (want %s)",
			sum.Reencrypted, secrets, sum.ProjectKeysRotated, sum.ProjectKeysDeleted, oldKID)
	}
	st.Keyring().ForgetProject(rotated)
	names := make([]string, secrets)
	for i := range names {
		names[i] = rotatedName(i)
	}
	values, err := st.GetValues(ctx, rotated, names, "bench check")
	if err != nil {
		return fmt.Errorf("read back %s: %w", rotated, err)
	}
	for i, name := range names {
		if string(values[name]) != string(rotatedValue(i)) {
			return fmt.Errorf("%s/%s does not hold its value after the rotation", rotated, name)
		}
	}
	key, err := st.GetProjectKey(ctx, rotated)
	if err != nil {
		return err
	}
	var under int64
	if err := st.Pool().QueryRow(ctx, "select count(*) from "+store.DefaultSchema+".secrets where project = $1 and kid = $2", rotated, key.KID).Scan(&under); err != nil {
		return err
	}
	if under != int64(secrets) {
		return fmt.Errorf("%d of %s's %d secrets are under its new key %s", under, rotated, secrets, key.KID)
	}
	return nil
}
