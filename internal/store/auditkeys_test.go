package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A write whose transaction began before reencrypt retired its audit key,
// and that reached the chain head only after the retirement committed, is
// refused with AuditKeyRetiredError instead of appending an event that
// `audit verify` would reject; the same process's next write, with the
// current root keys, succeeds, and the chain verifies.
func TestWriteRacingItsAuditKeysRetirementIsRefused(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	k1, k2 := storetest.Key(t, "k1", "dir"), storetest.Key(t, "k2", "dir")
	openAs := func(name string, roots ...*keyring.Key) *store.Store {
		cfg := db.Config
		cfg.Actor, cfg.ApplicationName = name, name
		s, err := store.Open(ctx, cfg, storetest.Ring(t, roots...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	setup := openAs("setup", k1, k2)
	put(t, setup, "app", "K", "v1")
	// A process still running with k2 first (a new key that was rolled back,
	// say) keys its events with k2's audit key.
	writer := openAs("race-writer", k2, k1)
	put(t, writer, "app", "K", "v2")
	rotator := openAs("race-rotator", k1, k2)

	// Hold the chain head, so that the retirement and the write queue on it
	// in that order: the write's statement starts before the retirement
	// commits.
	holder, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, "select seq from audit_head for update"); err != nil {
		t.Fatal(err)
	}
	rewrapped := make(chan error, 1)
	go func() {
		res, err := rotator.RewrapAuditKeys(ctx)
		if err == nil && len(res.Retired) == 0 {
			err = errors.New("retired no audit key")
		}
		rewrapped <- err
	}()
	waitForLock(t, db, "race-rotator")
	written := make(chan error, 1)
	go func() {
		_, err := writer.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v3"), ExpectedRevision: store.AnyRevision})
		written <- err
	}()
	waitForLock(t, db, "race-writer")
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-rewrapped; err != nil {
		t.Fatalf("retire the audit key: %v", err)
	}
	var retired *store.AuditKeyRetiredError
	if err := <-written; !errors.As(err, &retired) {
		t.Fatalf("write racing the retirement: %v, want AuditKeyRetiredError", err)
	}
	if _, err := rotator.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("audit verify after the race: %v", err)
	}
	if sec, err := rotator.GetSecret(ctx, "app", "K", "test"); err != nil || string(sec.Value) != "v2" {
		t.Fatalf("the refused write changed the secret: %v", err)
	}
	// Deployed with the current root keys, the same writer goes on.
	put(t, openAs("writer-redeployed", k1, k2), "app", "K", "v3")
	if _, err := rotator.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("audit verify after the next write: %v", err)
	}
}

// waitForLock waits until a connection named application waits on a lock.
func waitForLock(t *testing.T, db *storetest.DB, application string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := db.Pool.QueryRow(context.Background(),
			"select count(*) from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'", application).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never waited for the chain head", application)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
