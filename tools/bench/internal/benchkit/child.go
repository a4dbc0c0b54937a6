package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// A benchmark measures an in-process path in a child process of its own,
// this same program run again with a -child flag: the path gets its own
// peak RSS, and no heap or warm cache left over from seeding. The child
// prints its result as one JSON value on stdout (Emit); the parent reads it
// back (RunSelf).

// RunSelf runs this program again with args, to completion, and decodes
// its stdout, one JSON value, into result. The child's stdout goes through
// a file in dir.
func RunSelf(dir string, result any, args ...string) (Run, error) {
	exe, err := os.Executable()
	if err != nil {
		return Run{}, fmt.Errorf("find this program to run it as a child: %w", err)
	}
	f, err := os.CreateTemp(dir, "child-*.json")
	if err != nil {
		return Run{}, err
	}
	out := f.Name()
	f.Close()
	defer os.Remove(out)
	r, err := RunChild(out, nil, exe, args...)
	if err != nil {
		return Run{}, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return Run{}, err
	}
	if err := json.Unmarshal(b, result); err != nil {
		return Run{}, fmt.Errorf("child %v: result is not JSON: %v (%.200q)", args, err, b)
	}
	return r, nil
}

// RunCmd runs a prepared command to completion and returns its wall time,
// CPU and peak RSS, as RunChild does, but with the streams the caller set:
// for a child whose stderr is large (render lists every name it resolved).
func RunCmd(cmd *exec.Cmd) (Run, error) {
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Run{}, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	r := Run{Wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

// Emit prints a child's result for RunSelf.
func Emit(v any) error {
	return json.NewEncoder(os.Stdout).Encode(v)
}

// CPUTime is this process's user+system time so far; a child measures the
// CPU of its timed section as the difference of two readings.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RootKeys generates a root key and writes it, as `pgsecrets key generate`
// would, to dir/keys.json. It returns the key, the file, and its JSON.
func RootKeys(dir string) (*keyring.Key, string, []byte, error) {
	key, err := keyring.Generate("bench-root", "dir", "A256GCM")
	if err != nil {
		return nil, "", nil, err
	}
	b, err := keyring.ExportRootKeys([]*keyring.Key{key})
	if err != nil {
		return nil, "", nil, err
	}
	file := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, "", nil, err
	}
	return key, file, b, nil
}

// NewStoreDatabase creates a fresh database on srv, migrates it, and opens
// a store on it with key as the only root key, acting as "bench", with a
// pool of maxConns connections (0: pgx's default).
func NewStoreDatabase(ctx context.Context, srv *Server, name string, key *keyring.Key, maxConns int32) (*store.Store, string, error) {
	ring, err := keyring.New([]*keyring.Key{key})
	if err != nil {
		return nil, "", err
	}
	return NewStoreDatabaseWith(ctx, srv, name, ring, maxConns)
}

// NewStoreDatabaseWith is NewStoreDatabase with the root keys of ring (a
// key service's among them, say).
func NewStoreDatabaseWith(ctx context.Context, srv *Server, name string, ring *keyring.Keyring, maxConns int32) (*store.Store, string, error) {
	url, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return nil, "", fmt.Errorf("create database %s: %w", name, err)
	}
	cfg := store.Config{DatabaseURL: url, Schema: store.DefaultSchema, Actor: "bench", MaxConns: maxConns}
	pool, err := store.Connect(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	_, err = store.Migrate(ctx, pool, cfg.Schema, nil)
	pool.Close()
	if err != nil {
		return nil, "", fmt.Errorf("migrate %s: %w", name, err)
	}
	st, err := store.Open(ctx, cfg, ring)
	if err != nil {
		return nil, "", err
	}
	return st, url, nil
}

// SeedSecrets writes n secrets of project through store.PutSecret, new
// ones (revision 1), with workers writes at a time, and reports progress
// on stderr. name and value give the i-th secret.
func SeedSecrets(ctx context.Context, st *store.Store, project string, n, workers int, name func(int) string, value func(int) []byte) error {
	workers = max(1, min(workers, n))
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				_, err := st.PutSecret(ctx, store.PutSecretInput{
					Project: project, Name: name(i), Value: value(i), ExpectedRevision: store.MustNotExist,
				})
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("seed %s: %w", name(i), err) })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintf(os.Stderr, "seeded %d secrets of %s in %.1fs\n", n, project, time.Since(start).Seconds())
	return nil
}

// Settle vacuums and analyzes the tables of a store's schema and takes a
// checkpoint, so that what is measured next does not pay for the seeding.
func Settle(ctx context.Context, st *store.Store) error {
	for _, sql := range []string{"vacuum analyze", "checkpoint"} {
		if _, err := st.Pool().Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// Workers is the default concurrency of seeding: a few writes per CPU keep
// the server busy across round trips.
func Workers() int { return 4 * runtime.NumCPU() }

// Workspace is what a benchmark run sets up first: a work directory, a
// PostgreSQL server, and a root key written to the directory.
type Workspace struct {
	Dir      string
	Server   *Server
	Key      *keyring.Key
	KeysFile string
	// Keep leaves Dir in place at Close, and says where it is.
	Keep bool
}

// Begin makes a workspace for the benchmark name, on the server at dbURL
// or a throwaway one. Close undoes it.
func Begin(ctx context.Context, name, dbURL string) (*Workspace, error) {
	dir, err := os.MkdirTemp("", "bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	w := &Workspace{Dir: dir}
	if w.Server, err = StartServer(ctx, dbURL); err != nil {
		w.Close()
		return nil, err
	}
	if w.Key, w.KeysFile, _, err = RootKeys(dir); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close stops the server it started and removes the directory, unless Keep.
func (w *Workspace) Close() {
	if w.Server != nil {
		w.Server.Stop()
	}
	if w.Keep {
		fmt.Printf("work directory kept: %s\n", w.Dir)
		return
	}
	_ = os.RemoveAll(w.Dir)
}
