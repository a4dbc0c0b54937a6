package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func verifyChain(t *testing.T, s *store.Store) error {
	t.Helper()
	_, err := s.VerifyAuditChain(context.Background(), "")
	return err
}

func TestAuditChainLinksEveryChange(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "alice")
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte(canary), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSecret(ctx, "app", "K", "cli"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, "app", "K", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	events := db.Events(t)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
		if e.Actor != "alice" || e.DBRole != "postgres" || !strings.HasPrefix(e.MACKID, "audit-") {
			t.Fatalf("event %d: actor %q role %q mac_kid %q", e.Seq, e.Actor, e.DBRole, e.MACKID)
		}
	}
	// The first use of a fresh registry registers the root keys; the
	// project's first write makes its key.
	if got := strings.Join(actions, ","); got != "rootkey.register,key.create,secret.create,secret.read,secret.delete" {
		t.Fatalf("actions = %s", got)
	}
	if err := verifyChain(t, s); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	// Root keys with the same kids but other material are not this
	// deployment's: refused before they can vouch for (or write) anything.
	_, err := store.Open(ctx, db.Config, testRootKeys(t))
	var mismatch *store.RootKeyMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("open with impostor keys: %v, want a RootKeyMismatchError", err)
	}
}

func TestAuditEventsAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"update audit_events set actor = 'mallory'",
		"delete from audit_events",
		"truncate audit_events",
	} {
		_, err := db.Pool.Exec(ctx, sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: err = %v, want append-only refusal", sql, err)
		}
	}
	if n := len(db.Events(t)); n != 3 {
		t.Fatalf("%d events after refused changes, want 3 (registration, the project's key and the write)", n)
	}
}

func TestAuditRoleFilledByDatabase(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	// A client inserting an event directly cannot choose db_role: the
	// trigger overwrites whatever it claims.
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	_, err := db.Pool.Exec(ctx, `insert into audit_events (seq, at, actor, db_role, action, mac_kid, prev_mac, mac)
		select seq + 1, now(), 'x', 'someone_else', 'forged', 'k', mac, 'm' from audit_head`)
	if err != nil {
		t.Fatal(err)
	}
	events := db.Events(t)
	if last := events[len(events)-1]; last.DBRole != "postgres" {
		t.Fatalf("db_role = %q, want the session's role postgres", last.DBRole)
	}
}

func TestAuditChainHoldsUnderConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	const writers, each = 6, 15
	concurrently(t, db, ring, "writer", writers, each, func(s *store.Store, w, i int) error {
		_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("K%d_%d", w, i), Value: []byte("v"), ExpectedRevision: store.MustNotExist})
		return err
	})
	// Six first writers of one project make one key between them.
	events := db.Events(t)
	if len(events) != writers*each+2 {
		t.Fatalf("%d events, want %d, the registration and one project key", len(events), writers*each)
	}
	keys, err := db.Open(t, ring, "").ListProjectKeys(ctx, "app")
	if err != nil || len(keys) != 1 || keys[0].Secrets != writers*each {
		t.Fatalf("project keys of app = %+v (%v), want one key holding all %d secrets", keys, err, writers*each)
	}
	if err := verifyChain(t, db.Open(t, ring, "verifier")); err != nil {
		t.Fatal(err)
	}
}

// Nothing stored anywhere but the ciphertext column may carry the value.
func TestCanaryValueNeverInAuditOrMetadata(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte(canary), Category: "c", ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte(canary + "2"), ExpectedRevision: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSecret(ctx, "app", "K", "cli"); err != nil {
		t.Fatal(err)
	}
	var dump string
	err := db.Pool.QueryRow(ctx, `select coalesce(string_agg(t::text, E'\n'), '') from (
		select a::text as t from audit_events a
		union all select row(s.project, s.name, s.kid, s.description, s.category, s.created_by)::text from secrets s
		union all select k::text from encryption_keys k) x`).Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, canary) {
		t.Fatal("canary value found outside the ciphertext")
	}
	var ciphertext string
	if err := db.Pool.QueryRow(ctx, "select ciphertext from secrets").Scan(&ciphertext); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ciphertext, canary) {
		t.Fatal("ciphertext contains the plaintext")
	}
}

func TestAuditTimeIsTransactionTime(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	before := time.Now().Add(-time.Minute)
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	e := db.Events(t)[0]
	if e.At.Before(before) || e.At.After(time.Now().Add(time.Minute)) {
		t.Fatalf("event time %v not now", e.At)
	}
}

// A read is audited before its values are handed back: when its event
// cannot be written, the read fails, returns nothing and leaves the chain
// whole, and the next read, once events can be written again, works.
func TestReadFailsWhenItsAuditEventCannotBeWritten(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "alice")
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte(canary), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	// The first read opens the process's audit key; the second appends
	// with it in memory, as every later read of a process does.
	for range 2 {
		if _, err := s.GetValues(ctx, "app", []string{"K"}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	before := len(db.Events(t))
	if _, err := db.Pool.Exec(ctx, "alter table audit_events add constraint no_reads check (action <> 'secret.read') not valid"); err != nil {
		t.Fatal(err)
	}
	for range 3 { // every connection of the pool ends its transaction
		got, err := s.GetValues(ctx, "app", []string{"K"}, "test")
		if err == nil || got != nil || !strings.Contains(err.Error(), "append audit event") {
			t.Fatalf("read with its event refused: %d values, error %v; want no value and the append's error", len(got), err)
		}
	}
	if after := len(db.Events(t)); after != before {
		t.Fatalf("%d events written by refused reads", after-before)
	}
	if _, err := db.Pool.Exec(ctx, "alter table audit_events drop constraint no_reads"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetValues(ctx, "app", []string{"K"}, "test")
	if err != nil || string(got["K"]) != canary {
		t.Fatalf("read after events are allowed again: %v", err)
	}
	if after := len(db.Events(t)); after != before+1 {
		t.Fatalf("%d events after one more read, want 1", after-before)
	}
	if err := verifyChain(t, db.Open(t, ring, "verifier")); err != nil {
		t.Fatal(err)
	}
}

// Reads append their events concurrently with writes into one chain.
func TestAuditChainHoldsUnderConcurrentReadsAndWrites(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	seed := db.Open(t, ring, "seed")
	if _, err := seed.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	before := len(db.Events(t))
	const workers, each = 6, 10
	concurrently(t, db, ring, "worker", workers, each, func(s *store.Store, w, i int) error {
		if w%2 == 0 {
			_, err := s.GetValues(ctx, "app", []string{"K"}, "test")
			return err
		}
		_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("K%d_%d", w, i), Value: []byte("v"), ExpectedRevision: store.MustNotExist})
		return err
	})
	if n := len(db.Events(t)) - before; n != workers*each {
		t.Fatalf("%d events, want %d", n, workers*each)
	}
	if err := verifyChain(t, db.Open(t, ring, "verifier")); err != nil {
		t.Fatal(err)
	}
}
