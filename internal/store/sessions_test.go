package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
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
	if err := db.pool.QueryRow(ctx, "select token_hash from dashboard_sessions").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(token)); string(stored) != string(sum[:]) {
		t.Fatalf("stored %x, want the token's SHA-256", stored)
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
	hash := func(tok string) []byte { sum := sha256.Sum256([]byte(tok)); return sum[:] }
	// Move time rather than sleep: the idle one was last seen 31 minutes
	// ago; the absolute one is past its end though seen just now; the busy
	// one was seen 20 minutes ago and is still live.
	exec(t, db, "update dashboard_sessions set last_seen_at = now() - interval '31 minutes' where token_hash = $1", hash("idle"))
	exec(t, db, "update dashboard_sessions set created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour' where token_hash = $1", hash("absolute"))
	exec(t, db, "update dashboard_sessions set last_seen_at = now() - interval '20 minutes' where token_hash = $1", hash("busy"))
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
	if err := db.pool.QueryRow(ctx, "select last_seen_at from dashboard_sessions where token_hash = $1", hash("busy")).Scan(&seen); err != nil || time.Since(seen) > time.Minute {
		t.Errorf("last_seen_at not updated: %s, %v", seen, err)
	}
	if err := s.PruneDashboardState(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "select count(*) from dashboard_sessions").Scan(&n); err != nil || n != 1 {
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
