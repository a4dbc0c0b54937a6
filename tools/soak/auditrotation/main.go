// Command auditrotation runs, by hand, the race between writes under an
// old first root key and `reencrypt`'s retirement of that key's audit key,
// with PostgreSQL restarted under both, and checks after every run that
// the audit chain verifies: the system's own writes must never set off the
// tamper alarm.
//
// Each run starts a throwaway PostgreSQL, registers root keys K1 and K2,
// and then, at once: a writer keeps writing with [K2, K1] (each time its
// audit key is retired it is refused, and makes a new one); reencrypt keeps
// running with [K1, K2], retiring K2's audit keys; and the server is
// restarted -restarts times under them. Then reencrypt finishes and
// `audit verify` must pass.
//
//	go run ./tools/soak/auditrotation -runs 20 -restarts 8
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func main() {
	runs := flag.Int("runs", 20, "how many runs, each on a fresh server")
	restarts := flag.Int("restarts", 8, "server restarts per run")
	flag.Parse()
	ctx := context.Background()
	failed := 0
	for i := 1; i <= *runs; i++ {
		r, err := oneRun(ctx, *restarts)
		if err != nil {
			failed++
			fmt.Printf("run %d: FAILED: %v\n", i, err)
			continue
		}
		fmt.Printf("run %d: audit verify passed over %d events; %d writes, %d refused with a retired audit key, %d cut off by a restart; %d reencrypt runs retired %d audit keys\n",
			i, r.events, r.written.Load(), r.retiredRefusals.Load(), r.cutOff.Load(), r.reencryptRuns.Load(), r.retiredKeys.Load())
	}
	fmt.Printf("audit verify passed after %d of %d runs\n", *runs-failed, *runs)
	if failed > 0 {
		os.Exit(1)
	}
}

type result struct {
	events                                int64
	written, retiredRefusals, cutOff      atomic.Int64
	reencryptRuns, retiredKeys, failedRun atomic.Int64
}

func oneRun(ctx context.Context, restarts int) (*result, error) {
	c, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	cfg := store.Config{DatabaseURL: c.URL(), Schema: store.DefaultSchema}
	pool, err := store.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = store.Migrate(ctx, pool, cfg.Schema, nil)
	pool.Close()
	if err != nil {
		return nil, err
	}
	k1, err := keyring.Generate("k1", "dir", "A256GCM")
	if err != nil {
		return nil, err
	}
	k2, err := keyring.Generate("k2", "dir", "A256GCM")
	if err != nil {
		return nil, err
	}
	oldFirst, err := keyring.New([]*keyring.Key{k2, k1})
	if err != nil {
		return nil, err
	}
	newFirst, err := keyring.New([]*keyring.Key{k1, k2})
	if err != nil {
		return nil, err
	}
	seed, err := open(ctx, cfg, "seed", oldFirst)
	if err != nil {
		return nil, err
	}
	for n := range 500 {
		if _, err := seed.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("S%d", n), Value: []byte("v"), ExpectedRevision: store.AnyRevision}); err != nil {
			seed.Close()
			return nil, err
		}
	}
	seed.Close()

	r := &result{}
	busy, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.write(busy, cfg, oldFirst) })
	wg.Go(func() { r.reencrypt(busy, cfg, newFirst) })
	for range restarts {
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		if err := c.RestartServer(100 * time.Millisecond); err != nil {
			stop()
			wg.Wait()
			return nil, err
		}
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()

	final, err := open(ctx, cfg, "final", newFirst)
	if err != nil {
		return nil, err
	}
	defer final.Close()
	if _, err := reencrypt.Run(ctx, final, reencrypt.Options{}); err != nil {
		return nil, fmt.Errorf("final reencrypt: %w", err)
	}
	rep, err := final.VerifyAuditChain(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("audit verify: %w", err)
	}
	r.events = rep.Count
	return r, nil
}

// write writes with the old first root key until ctx ends.
func (r *result) write(ctx context.Context, cfg store.Config, ring *keyring.Keyring) {
	st, err := untilOpen(ctx, cfg, "writer", ring)
	if err != nil {
		return
	}
	defer st.Close()
	for n := 0; ctx.Err() == nil; n++ {
		_, err := st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("W%d", n%50), Value: []byte("v"), ExpectedRevision: store.AnyRevision})
		var retired *store.AuditKeyRetiredError
		switch {
		case err == nil:
			r.written.Add(1)
		case errors.As(err, &retired):
			r.retiredRefusals.Add(1)
		default:
			r.cutOff.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// reencrypt runs reencrypt with the new first root key until ctx ends.
func (r *result) reencrypt(ctx context.Context, cfg store.Config, ring *keyring.Keyring) {
	st, err := untilOpen(ctx, cfg, "reencrypt", ring)
	if err != nil {
		return
	}
	defer st.Close()
	for ctx.Err() == nil {
		sum, err := reencrypt.Run(ctx, st, reencrypt.Options{BatchSize: 100})
		r.reencryptRuns.Add(1)
		r.retiredKeys.Add(int64(len(sum.AuditKeys.Retired)))
		if err != nil {
			r.failedRun.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func open(ctx context.Context, cfg store.Config, actor string, ring *keyring.Keyring) (*store.Store, error) {
	cfg.Actor, cfg.ApplicationName = actor, actor
	return store.Open(ctx, cfg, ring)
}

// untilOpen opens a store, retrying while the server restarts.
func untilOpen(ctx context.Context, cfg store.Config, actor string, ring *keyring.Keyring) (*store.Store, error) {
	for {
		st, err := open(ctx, cfg, actor, ring)
		if err == nil || ctx.Err() != nil {
			return st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
