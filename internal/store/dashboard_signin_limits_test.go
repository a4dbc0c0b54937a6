package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var testLimits = store.SignInLimits{Window: 15 * time.Minute, PerAccount: 3, PerAddress: 5}

func begin(t *testing.T, s *store.Store, email, address string) store.SignInAttempt {
	t.Helper()
	v, err := s.BeginSignIn(context.Background(), email, address, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignInLimitPerAccountNameWhetherOrNotItExists(t *testing.T) {
	s, _ := newTestStore(t)
	createAccount(t, s, "a@example.com", store.RoleViewer)
	for _, name := range []string{"a@example.com", "nobody@example.com"} {
		for i := range 3 {
			if v := begin(t, s, strings.ToUpper(name), "192.0.2."+string(rune('1'+i))); !v.Allowed {
				t.Fatalf("%s attempt %d refused", name, i+1)
			}
		}
		v := begin(t, s, name, "192.0.2.9")
		if v.Allowed || v.RetryAfter <= 14*time.Minute || v.RetryAfter > 15*time.Minute {
			t.Fatalf("%s fourth attempt: %+v, want refused for about 15 minutes", name, v)
		}
	}
}

func TestSignInLimitPerAddressAndSuccessGivesTheAttemptBack(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	// A good sign-in clears its account and does not use up the address.
	for range 10 {
		if v := begin(t, s, "a@example.com", "198.51.100.1"); !v.Allowed {
			t.Fatal("good sign-ins were limited")
		}
		if err := s.SignInSucceeded(ctx, "a@example.com", "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
	}
	// Guesses at many names from one address.
	for i := range 5 {
		if v := begin(t, s, "user"+string(rune('a'+i))+"@example.com", "198.51.100.1"); !v.Allowed {
			t.Fatalf("guess %d refused", i+1)
		}
	}
	if v := begin(t, s, "other@example.com", "198.51.100.1"); v.Allowed {
		t.Fatal("sixth guess from one address allowed")
	}
	if v := begin(t, s, "other@example.com", "198.51.100.2"); !v.Allowed {
		t.Fatal("another address was limited")
	}
	// Once the window has passed, attempts count afresh.
	exec(t, db, "update dashboard_signin_failures set window_start = now() - interval '16 minutes'")
	if v := begin(t, s, "usera@example.com", "198.51.100.1"); !v.Allowed {
		t.Fatal("limit outlived its window")
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select count(*) from dashboard_signin_failures where key like '%@%'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d counters keep the name typed in clear (%v)", n, err)
	}
}

func TestParallelGuessesCannotPassTheLimit(t *testing.T) {
	s, _ := newTestStore(t)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 20 {
		wg.Go(func() {
			v, err := s.BeginSignIn(context.Background(), "a@example.com", "203.0.113.5", testLimits)
			if err != nil {
				t.Error(err)
				return
			}
			if v.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != testLimits.PerAccount {
		t.Fatalf("%d parallel attempts allowed, want %d", allowed, testLimits.PerAccount)
	}
}
