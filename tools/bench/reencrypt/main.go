// Command reencrypt benchmarks `pgsecrets reencrypt` against the floor of
// any re-encryption: a plain SQL UPDATE that rewrites the same column of
// the same rows. For each key algorithm it seeds a fresh database with
// -rows secrets under an old root key, times the UPDATE, then times the
// real binary moving every secret to a new root key, and prints both side
// by side with their ratio and the binary's peak RSS.
//
//	go run ./tools/bench/reencrypt -rows 1000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// Targets: the time against the floor, by key algorithm (a wrapped key
// costs a second AES-GCM per row), and peak memory.
var maxRatio = map[string]float64{"dir": 1.3, "A256GCMKW": 1.5}

const (
	defaultMaxRatio = 1.5
	maxPeakRSS      = 100 << 20
)

func main() {
	rows := flag.Int("rows", 20000, "secrets to seed")
	algs := flag.String("algs", "dir,A256GCMKW", "key algorithms to measure, comma-separated")
	batch := flag.Int("batch-size", reencrypt.DefaultBatchSize, "reencrypt --batch-size")
	workers := flag.Int("workers", 0, "reencrypt --workers (0: its default, one more than the CPUs)")
	dbURL := flag.String("database-url", "", "server to use (a user that may create databases); default: a throwaway one")
	bin := flag.String("bin", "", "pgsecrets binary to measure (default: build this module's)")
	flag.Parse()
	if err := run(*rows, strings.Split(*algs, ","), *batch, *workers, *dbURL, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "bench reencrypt:", err)
		os.Exit(1)
	}
}

func run(rows int, algs []string, batch, workers int, dbURL, bin string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "bench-reencrypt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if bin, err = benchkit.BuildPgsecrets(tmp); err != nil {
			return err
		}
	}
	srv, err := benchkit.StartServer(ctx, dbURL)
	if err != nil {
		return err
	}
	defer srv.Stop()

	fmt.Printf("reencrypt benchmark: %d secrets, batch size %d, workers %s, %d CPUs, load %s\n",
		rows, batch, workersLabel(workers), runtime.NumCPU(), benchkit.Load())
	fmt.Printf("%-10s  %12s  %12s  %7s  %11s  %10s  %12s  %12s  %s\n", "alg", "plain UPDATE", "reencrypt", "ratio", "rows/s", "CPU", "peak RSS", "crypto floor", "targets (ratio, 100 MiB)")
	failed := false
	for _, alg := range algs {
		res, err := measure(ctx, srv, bin, tmp, alg, rows, batch, workers)
		if err != nil {
			return fmt.Errorf("%s: %w", alg, err)
		}
		ratio := res.reencrypt.Wall.Seconds() / res.update.Seconds()
		target, known := maxRatio[alg]
		if !known {
			target = defaultMaxRatio
		}
		ok := ratio <= target && res.reencrypt.PeakRSS < maxPeakRSS
		failed = failed || !ok
		fmt.Printf("%-10s  %11.2fs  %11.2fs  %6.2fx  %11.0f  %9.2fs  %12s  %11.2fs  %s (%.1fx) / %s\n", alg,
			res.update.Seconds(), res.reencrypt.Wall.Seconds(), ratio,
			float64(rows)/res.reencrypt.Wall.Seconds(), res.reencrypt.CPU.Seconds(), benchkit.MiB(res.reencrypt.PeakRSS),
			res.floor.Seconds(),
			benchkit.Verdict(ratio <= target), target, benchkit.Verdict(res.reencrypt.PeakRSS < maxPeakRSS))
	}
	fmt.Println("plain UPDATE: `update secrets set ciphertext = ciphertext || ''` on the same rows, timed in the server;")
	fmt.Println("reencrypt: the real binary, wall time of the whole process; CPU: its user+system time;")
	fmt.Println("crypto floor: keyring decrypt+encrypt of every row on all CPUs with no database, the least any re-encryption takes.")
	if failed {
		fmt.Println("at least one target missed")
	}
	return nil
}

func workersLabel(w int) string {
	if w == 0 {
		return strconv.Itoa(reencrypt.DefaultWorkers()) + " (one more than the CPUs)"
	}
	return strconv.Itoa(w)
}

type result struct {
	update    time.Duration
	reencrypt benchkit.Run
	floor     time.Duration
}

func measure(ctx context.Context, srv *benchkit.Server, bin, tmp, alg string, rows, batch, workers int) (result, error) {
	dbName := "bench_reencrypt_" + strings.ToLower(alg)
	url, err := srv.NewDatabase(ctx, dbName)
	if err != nil {
		return result{}, err
	}
	cfg := store.Config{DatabaseURL: url, Schema: store.DefaultSchema, Actor: "bench"}
	pool, err := store.Connect(ctx, cfg)
	if err != nil {
		return result{}, err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool, cfg.Schema, nil); err != nil {
		return result{}, err
	}

	oldKey, err := keyring.Generate("old-"+alg, alg, "A256GCM")
	if err != nil {
		return result{}, err
	}
	newKey, err := keyring.Generate("new-"+alg, alg, "A256GCM")
	if err != nil {
		return result{}, err
	}
	// Measured first, while the server is idle (no autovacuum yet).
	floor, err := cryptoFloor(oldKey, newKey, rows)
	if err != nil {
		return result{}, err
	}
	fmt.Fprintf(os.Stderr, "%s: seeding %d secrets...\n", alg, rows)
	if err := seed(ctx, pool, oldKey, rows); err != nil {
		return result{}, fmt.Errorf("seed: %w", err)
	}
	settle := func() error {
		for _, sql := range []string{"vacuum analyze pgsecrets.secrets", "checkpoint"} {
			if _, err := pool.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	}
	if err := settle(); err != nil {
		return result{}, err
	}

	// The floor: the same rows, the same column, rewritten by the server
	// alone, with no crypto and no round trips.
	fmt.Fprintf(os.Stderr, "%s: plain UPDATE...\n", alg)
	start := time.Now()
	if _, err := pool.Exec(ctx, "update pgsecrets.secrets set ciphertext = ciphertext || ''"); err != nil {
		return result{}, err
	}
	update := time.Since(start)
	if err := settle(); err != nil {
		return result{}, err
	}

	keysFile := filepath.Join(tmp, "keys-"+alg+".json")
	b, err := keyring.ExportRootKeys([]*keyring.Key{newKey, oldKey})
	if err != nil {
		return result{}, err
	}
	if err := os.WriteFile(keysFile, b, 0o600); err != nil {
		return result{}, err
	}
	fmt.Fprintf(os.Stderr, "%s: pgsecrets reencrypt...\n", alg)
	out := filepath.Join(tmp, "summary-"+alg+".json")
	args := []string{"--database-url", url, "--root-keys-file", keysFile, "reencrypt", "--output", "json", "--batch-size", strconv.Itoa(batch)}
	if workers > 0 {
		args = append(args, "--workers", strconv.Itoa(workers))
	}
	re, err := benchkit.RunChild(out, []string{"PGSECRETS_ACTOR=bench"}, bin, args...)
	if err != nil {
		return result{}, err
	}
	var sum struct {
		Reencrypted int64 `json:"reencrypted"`
	}
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &sum) != nil || sum.Reencrypted != int64(rows) {
		return result{}, fmt.Errorf("reencrypt did not re-encrypt all %d secrets (summary: %s)", rows, b)
	}
	return result{update: update, reencrypt: re, floor: floor}, nil
}

// cryptoFloor times what reencrypt cannot avoid, decrypting with the old
// key and encrypting with the new one, on every CPU, for a sample of rows,
// and scales it to rows.
func cryptoFloor(oldKey, newKey *keyring.Key, rows int) (time.Duration, error) {
	oldRing, err := keyring.New([]*keyring.Key{oldKey})
	if err != nil {
		return 0, err
	}
	ring, err := keyring.New([]*keyring.Key{newKey, oldKey})
	if err != nil {
		return 0, err
	}
	sample := min(rows, 20000)
	binding := keyring.SecretBinding("project-001", "SECRET_0000001", 1)
	token, _, err := oldRing.Encrypt([]byte(fmt.Sprintf("sk_live_%032d", 1)), binding)
	if err != nil {
		return 0, err
	}
	cpus := runtime.NumCPU()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	start := time.Now()
	for range cpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < sample/cpus; i++ {
				d, err := ring.Decrypt(token, binding)
				if err == nil {
					_, _, err = ring.Encrypt(d.Plaintext, binding)
				}
				if err != nil {
					errMu.Lock()
					first = err
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return time.Duration(float64(elapsed) * float64(rows) / float64(sample/cpus*cpus)), first
}

// seed writes rows secrets under key, bound.
func seed(ctx context.Context, pool benchkit.Copier, key *keyring.Key, rows int) error {
	return benchkit.CopySecrets(ctx, pool, "pgsecrets", rows, func(n int) benchkit.SeedSecret {
		return benchkit.SeedSecret{
			Project: fmt.Sprintf("project-%03d", n%200), Name: fmt.Sprintf("SECRET_%07d", n),
			Value: []byte(fmt.Sprintf("sk_live_%032d", n)), Key: key,
		}
	})
}
