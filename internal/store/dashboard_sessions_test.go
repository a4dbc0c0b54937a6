package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestSessionStoresOnlyTheTokenHashAndIsAudited(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	a := createAccount(t, s, "a@example.com", store.RoleViewer)
	const token = "the-random-session-token"
	sess, err := s.WithActor("dashboard:a@example.com").StartSession(ctx, a, token, store.SessionTimeouts{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if d := sess.ExpiresAt.Sub(sess.CreatedAt); d != 12*time.Hour {
		t.Errorf("absolute expiry after %s", d)
	}
	var stored []byte
	if err := db.Pool.QueryRow(ctx, "select token_hash from dashboard_sessions").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(token)); len(stored) != 32 || string(stored) == string(sum[:]) || strings.Contains(string(stored), token) {
		t.Fatalf("stored %x: want a keyed hash, neither the token nor its plain SHA-256", stored)
	}
	got, err := s.SessionByToken(ctx, token)
	if err != nil || got.Account.Email != "a@example.com" || got.Account.Role != store.RoleViewer {
		t.Fatalf("SessionByToken = %+v, %v", got, err)
	}
	events := auditOf(t, s, audit.ActionSignIn)
	if len(events) != 1 || events[0].Actor != "dashboard:a@example.com" || events[0].Subject != "a@example.com" || events[0].Details != `{"address":"192.0.2.7"}` {
		t.Fatalf("sign-in events: %+v", events)
	}
	if _, err := s.SessionByToken(ctx, "another-token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

func TestSessionExpiresWhenIdleAndAtItsAbsoluteEnd(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	a := createAccount(t, s, "a@example.com", store.RoleViewer)
	timeouts := store.SessionTimeouts{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	for _, tok := range []string{"idle", "absolute", "busy"} {
		if _, err := s.StartSession(ctx, a, tok, timeouts, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Move time rather than sleep: the idle one was last seen 31 minutes
	// ago; the absolute one is past its end though seen just now; the busy
	// one was seen 20 minutes ago and is still live.
	// Sessions were started in this order, so created_at orders them too.
	sessionWhere := "token_hash = (select token_hash from dashboard_sessions order by created_at, ctid offset $1 limit 1)"
	exec(t, db, "update dashboard_sessions set last_seen_at = now() - interval '31 minutes' where "+sessionWhere, 0)
	exec(t, db, "update dashboard_sessions set created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour' where "+sessionWhere, 1)
	exec(t, db, "update dashboard_sessions set last_seen_at = now() - interval '20 minutes' where "+sessionWhere, 2)
	for _, tok := range []string{"idle", "absolute"} {
		if _, err := s.SessionByToken(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s session still live: %v", tok, err)
		}
	}
	busy, err := s.SessionByToken(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(busy.IdleExpiresAt); left < 29*time.Minute {
		t.Errorf("a request did not move the idle expiry on: %s left", left)
	}
	var seen time.Time
	if err := db.Pool.QueryRow(ctx, "select max(last_seen_at) from dashboard_sessions").Scan(&seen); err != nil || time.Since(seen) > time.Minute {
		t.Errorf("last_seen_at not updated: %s, %v", seen, err)
	}
	if err := s.PruneDashboardState(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select count(*) from dashboard_sessions").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d sessions after pruning, want the busy one only (%v)", n, err)
	}
}

func TestSignOutEverywhereEndsEverySessionOfTheAccount(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	a := createAccount(t, s, "a@example.com", store.RoleViewer)
	b := createAccount(t, s, "b@example.com", store.RoleViewer)
	timeouts := store.SessionTimeouts{Idle: time.Hour, Absolute: time.Hour}
	for _, tok := range []string{"a1", "a2", "a3"} {
		if _, err := s.StartSession(ctx, a, tok, timeouts, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.StartSession(ctx, b, "b1", timeouts, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, "a1"); err != nil {
		t.Fatalf("signing out twice: %v", err)
	}
	if n, err := s.CountSessions(ctx, a.ID); err != nil || n != 2 {
		t.Fatalf("%d sessions after one sign-out, %v", n, err)
	}
	n, err := s.EndAccountSessions(ctx, a)
	if err != nil || n != 2 {
		t.Fatalf("ended %d, %v", n, err)
	}
	if _, err := s.SessionByToken(ctx, "b1"); err != nil {
		t.Fatalf("another account's session ended: %v", err)
	}
	events := auditOf(t, s, audit.ActionSignOut)
	if len(events) != 2 || events[0].Details != "{}" || events[1].Details != `{"everywhere":true,"sessions_ended":2}` {
		t.Fatalf("sign-out events: %+v", events)
	}
}

// Whoever can write to the database but holds no root key cannot plant a
// session: the hash of a token they chose is not what a lookup computes.
func TestPlantedSessionSignsNobodyIn(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	a := createAccount(t, s, "admin@example.com", store.RoleAdmin)
	sum := sha256.Sum256([]byte("attacker-token"))
	exec(t, db, "insert into dashboard_sessions (token_hash, account_id, idle_timeout, expires_at, seal) values ($1, $2, interval '1 hour', now() + interval '1 hour', $1)", sum[:], a.ID)
	if _, err := s.SessionByToken(ctx, "attacker-token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a planted session signed in: %v", err)
	}
}

// After a root key rotation (the new key first, the old one kept), a
// session made under the old first key is still found; a process without
// root keys cannot use sessions at all.
func TestSessionsSurviveARotationWhileTheOldKeyIsConfigured(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	roots := testRootKeyList(t)
	before := db.Open(t, storetest.Ring(t, roots...), "before")
	a := createAccount(t, before, "a@example.com", store.RoleViewer)
	if _, err := before.StartSession(ctx, a, "tok", store.SessionTimeouts{Idle: time.Hour, Absolute: time.Hour}, ""); err != nil {
		t.Fatal(err)
	}
	newKey, err := keyring.Generate("root-new", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	cfg := db.Config
	cfg.AllowUnregisteredRootKeys = false
	after, err := store.Open(ctx, cfg, storetest.Ring(t, append([]*keyring.Key{newKey}, roots...)...))
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if _, err := after.SessionByToken(ctx, "tok"); err != nil {
		t.Fatalf("session lost at rotation: %v", err)
	}
	meta, err := store.Open(ctx, db.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	if _, err := meta.SessionByToken(ctx, "tok"); !errors.Is(err, store.ErrNoRootKeys) {
		t.Fatalf("a store without root keys: %v", err)
	}
}
