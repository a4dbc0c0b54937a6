package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A write whose connection dies says whether it may have been applied,
// in each of the two round trips a write takes once the process holds its
// keys: cut off before COMMIT was sent, it was not applied, and running it
// again is safe; cut off once COMMIT was on its way, its outcome is
// unknown, and a SameIsDone write run again settles it without applying it
// twice.
func TestWriteCutOffSaysWhetherItMayHaveBeenApplied(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	// The first write opens the project's key and the audit key: the
	// writes below take the two round trips.
	put(t, s, "app", "FIRST", "v")

	t.Run("before COMMIT", func(t *testing.T) {
		// Another transaction holds the chain head: the write waits in
		// its first round trip, where it locks the head.
		hold := beginHolding(t, db)
		if _, err := hold.Exec(ctx, "select 1 from audit_head for update"); err != nil {
			t.Fatal(err)
		}
		err := cutOffWhileWaiting(t, db, "audit_lock_head", func() error {
			_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "CUT_EARLY", Value: []byte("v"), ExpectedRevision: store.MustNotExist})
			return err
		})
		var notApplied *store.NotAppliedError
		if !errors.As(err, &notApplied) || !strings.Contains(err.Error(), `secret "app/CUT_EARLY"`) {
			t.Fatalf("write cut off in its first round trip: %v, want a NotAppliedError naming the secret", err)
		}
		if err := hold.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, "select count(*) from secrets where name = 'CUT_EARLY'"); n != 0 {
			t.Fatalf("%d rows of a write that was not applied", n)
		}
		put(t, s, "app", "CUT_EARLY", "v") // run again: applied once
	})

	t.Run("once COMMIT was sent", func(t *testing.T) {
		// Another transaction inserts the same name and holds it: the
		// write's INSERT waits on it, in the round trip that ends with
		// COMMIT.
		hold := beginHolding(t, db)
		if _, err := hold.Exec(ctx, `create temp table pending on commit drop as select * from secrets where name = 'FIRST';
			update pending set name = 'CUT_LATE';
			insert into secrets select * from pending`); err != nil {
			t.Fatal(err)
		}
		in := store.PutSecretInput{Project: "app", Name: "CUT_LATE", Value: []byte("late"), ExpectedRevision: store.MustNotExist, SameIsDone: true}
		err := cutOffWhileWaiting(t, db, "logged as", func() error {
			_, err := s.PutSecret(ctx, in)
			return err
		})
		var unknown *store.OutcomeUnknownError
		if !errors.As(err, &unknown) || !strings.Contains(err.Error(), `secret "app/CUT_LATE"`) {
			t.Fatalf("write cut off once its COMMIT was sent: %v, want an OutcomeUnknownError naming the secret", err)
		}
		if err := hold.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		// Here it had not committed; run again, it is written once.
		m, err := s.PutSecret(ctx, in)
		if err != nil || m.Unchanged || m.Revision != 1 {
			t.Fatalf("the write run again: %+v, %v; want revision 1 written", m, err)
		}
		if again, err := s.PutSecret(ctx, in); err != nil || !again.Unchanged {
			t.Fatalf("and once more: %+v, %v; want it found done", again, err)
		}
	})

	// No event went in for a write that was not applied, nor twice for one
	// that was, and the chain holds.
	creates := 0
	for _, e := range db.Events(t) {
		if e.Action == audit.ActionSecretCreate {
			creates++
		}
	}
	if creates != 3 {
		t.Fatalf("%d create events, want 3 (FIRST, CUT_EARLY, CUT_LATE once each)", creates)
	}
	if err := verifyChain(t, s); err != nil {
		t.Fatal(err)
	}
}

// A write refused as a conflict in its second round trip writes no
// audit event, and the chain stays whole.
func TestWriteConflictInSecondRoundTripWritesNoEvent(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	put(t, s, "app", "TOKEN", "one")
	before := len(db.Events(t))
	_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("two"), ExpectedRevision: store.MustNotExist})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create of an existing secret: %v, want a conflict", err)
	}
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("two"), ExpectedRevision: 7}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update at a stale revision: %v, want a conflict", err)
	}
	if after := len(db.Events(t)); after != before {
		t.Fatalf("%d events after two refused writes, want %d", after, before)
	}
	if got := storetest.Values(t, s)["app/TOKEN"]; got != "one" {
		t.Fatalf("value after refused writes: %q, want %q", got, "one")
	}
	if err := verifyChain(t, s); err != nil {
		t.Fatal(err)
	}
}

func beginHolding(t *testing.T, db *storetest.DB) pgx.Tx {
	t.Helper()
	tx, err := db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func countRows(t *testing.T, db *storetest.DB, sql string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// cutOffWhileWaiting runs write, waits until its statement containing
// marker waits on a lock, terminates that server process, and returns
// write's error.
func cutOffWhileWaiting(t *testing.T, db *storetest.DB, marker string, write func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- write() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var terminated bool
		err := db.Pool.QueryRow(context.Background(), `select coalesce(bool_or(pg_terminate_backend(pid)), false) from pg_stat_activity
			where wait_event_type = 'Lock' and pid <> pg_backend_pid() and position($1 in query) > 0`, marker).Scan(&terminated)
		if err != nil {
			t.Fatal(err)
		}
		if terminated {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the write ended before it waited on a lock (%q): %v", marker, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement containing %q waited on a lock within 10 s", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the write did not return within 10 s of its connection's end")
		return nil
	}
}
