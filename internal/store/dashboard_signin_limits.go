package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// SignInLimits bound failed sign-ins in a fixed window: per account name
// typed (whether or not such an account exists) and per client address.
type SignInLimits struct {
	Window     time.Duration
	PerAccount int
	PerAddress int
}

// SignInAttempt is the verdict on one sign-in attempt.
type SignInAttempt struct {
	// Allowed is false when the account name or the address has used up
	// its attempts for the window; the password must then not be checked.
	Allowed bool
	// RetryAfter is how long until the window that refused it closes.
	RetryAfter time.Duration
}

// BeginSignIn counts an attempt against both the account name and the
// address before the password is checked, and says whether it may go on.
// Counting first, in one statement, means parallel guesses cannot all pass
// a check made before any of them is counted. SignInSucceeded gives a
// good attempt back. a name that matches no account is limited exactly
// like one that does.
func (s *Store) BeginSignIn(ctx context.Context, email, address string, l SignInLimits) (SignInAttempt, error) {
	rows, err := s.pool.Query(ctx, `
		insert into `+s.table("dashboard_signin_failures")+` as f (scope, key, window_start, failures)
		values ('account', $1, now(), 1), ('address', $2, now(), 1)
		on conflict (scope, key) do update set
			failures = case when f.window_start > now() - $3::interval then f.failures + 1 else 1 end,
			window_start = case when f.window_start > now() - $3::interval then f.window_start else now() end
		returning scope, failures, extract(epoch from window_start + $3::interval - now())`,
		signInKey(email), address, l.Window)
	if err != nil {
		return SignInAttempt{}, fmt.Errorf("count sign-in attempt: %w", err)
	}
	defer rows.Close()
	verdict := SignInAttempt{Allowed: true}
	for rows.Next() {
		var (
			scope    string
			failures int
			left     float64
		)
		if err := rows.Scan(&scope, &failures, &left); err != nil {
			return SignInAttempt{}, fmt.Errorf("count sign-in attempt: %w", err)
		}
		limit := l.PerAccount
		if scope == "address" {
			limit = l.PerAddress
		}
		if failures > limit {
			verdict.Allowed = false
			verdict.RetryAfter = max(verdict.RetryAfter, time.Duration(left*float64(time.Second)).Round(time.Second))
		}
	}
	if err := rows.Err(); err != nil {
		return SignInAttempt{}, fmt.Errorf("count sign-in attempt: %w", err)
	}
	return verdict, nil
}

// SignInSucceeded clears the account's failures and gives the address
// back the attempt BeginSignIn counted. The address keeps its other
// failures: one good password must not wipe out guesses at other accounts
// from the same place.
func (s *Store) SignInSucceeded(ctx context.Context, email, address string) error {
	_, err := s.pool.Exec(ctx, `
		with account as (
			delete from `+s.table("dashboard_signin_failures")+` where scope = 'account' and key = $1
		)
		update `+s.table("dashboard_signin_failures")+` set failures = greatest(failures - 1, 0)
		where scope = 'address' and key = $2`, signInKey(email), address)
	if err != nil {
		return fmt.Errorf("clear sign-in failures: %w", err)
	}
	return nil
}

// signInKey is what is kept of the account name typed: a digest of it,
// normalised when it is an email. People type passwords into the name
// field; the table must not keep them.
func signInKey(email string) string {
	name := strings.ToLower(strings.TrimSpace(email))
	if e, err := NormalizeEmail(email); err == nil {
		name = e
	}
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}
