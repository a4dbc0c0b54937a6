package store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors, for errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInUse    = errors.New("in use")
	// ErrNoRootKeys is what a metadata-only store (opened without root
	// keys) returns for anything that needs them.
	ErrNoRootKeys = errors.New("no root keys")
)

// NoRootKeysError names what needed root keys on a store opened without
// them.
type NoRootKeysError struct {
	What string // e.g. "decrypt a secret", "append an audit event"
}

func (e *NoRootKeysError) Error() string {
	return "cannot " + e.What + " without root keys; this process was given none"
}

func (e *NoRootKeysError) Is(target error) bool { return target == ErrNoRootKeys }

// NotFoundError names what is missing.
type NotFoundError struct {
	What string // e.g. `secret "app/API_KEY"`
}

func (e *NotFoundError) Error() string { return e.What + " not found" }

func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError is a compare-and-swap that lost: the row changed (or was
// created) since the caller read it.
type ConflictError struct {
	What     string
	Expected int64 // revision the caller had; 0 when it expected no row
	Current  int64 // revision found; 0 when there is no row
}

func (e *ConflictError) Error() string {
	switch {
	case e.Expected == 0:
		return fmt.Sprintf("%s already exists (revision %d)", e.What, e.Current)
	case e.Current == 0:
		return fmt.Sprintf("%s was deleted since revision %d", e.What, e.Expected)
	default:
		return fmt.Sprintf("%s was changed by someone else: expected revision %d, found %d; re-read it and retry", e.What, e.Expected, e.Current)
	}
}

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ValueError refuses a value the write policy does not take: an empty one,
// or one larger than MaxValueBytes. Its message names the secret and the
// limit, never the value, nor its size.
type ValueError struct {
	What  string // e.g. `secret "app/API_KEY"`
	Empty bool   // empty; else too large
}

func (e *ValueError) Error() string {
	limit := fmt.Sprintf("%d MiB (%d bytes)", MaxValueBytes>>20, MaxValueBytes)
	if e.Empty {
		return fmt.Sprintf("the value of %s is empty; a secret's value holds 1 byte to %s", e.What, limit)
	}
	return fmt.Sprintf("the value of %s is larger than %s, the most a secret's value may hold", e.What, limit)
}

// KeyInUseError refuses to retire a key that still protects something.
type KeyInUseError struct {
	KID      string
	Secrets  int64
	Versions int64 // kept earlier values of secrets
	Keys     int64 // data keys wrapped by it, for a root key
}

func (e *KeyInUseError) Error() string {
	return fmt.Sprintf("key %q still encrypts %d secret(s), %d earlier version(s) and %d data key(s); make another key primary and run `pgsecrets reencrypt` first (or prune the history)", e.KID, e.Secrets, e.Versions, e.Keys)
}

func (e *KeyInUseError) Is(target error) bool { return target == ErrInUse }

// UnboundError refuses, in strict mode, a ciphertext that is not bound to
// its row and version: an unbound one opens in any row, and one bound to
// its row alone can be rolled back to an older value.
type UnboundError struct {
	What  string
	Bound bool // bound to its row, not to its version
}

func (e *UnboundError) Error() string {
	if e.Bound {
		return fmt.Sprintf("%s: its ciphertext is bound to its row but not to its revision, and strict mode refuses it; run `pgsecrets reencrypt` to bind it fully", e.What)
	}
	return fmt.Sprintf("%s: its ciphertext carries no binding (it would open in any row), and strict mode refuses it; check that it is this secret's value, then run `pgsecrets reencrypt --bind-unbound` without strict mode", e.What)
}

// IsTransientConflict reports a transaction PostgreSQL aborted for a
// serialization failure or a deadlock: nothing of it was written, and the
// same transaction, run again, may well succeed.
func IsTransientConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// IsConnectionLoss reports errors that a reconnect may cure: the server
// went away (shutdown, crash, failover), is starting up, or could not be
// reached. Errors of a statement itself are not among them.
func IsConnectionLoss(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01..57P03: admin shutdown,
		// crash shutdown, cannot connect now.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	// *net.OpError, not net.Error: a syscall.Errno (a missing file, say)
	// is a net.Error too, and is no lost connection. Nor is an address
	// this process could not listen on (the dashboard's, say).
	var connectErr *pgconn.ConnectError
	var opErr *net.OpError
	return errors.As(err, &connectErr) || errors.As(err, &opErr) && opErr.Op != "listen" ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err)
}

// OutcomeUnknownError is a change whose COMMIT was sent but whose answer
// never came: the connection was lost (a failover, a crash), and the change
// may or may not have been applied. Running the same write again is safe
// where it is compare-and-swap (an expected revision) or writes what the
// secret already holds (PutSecretInput.SameIsDone).
type OutcomeUnknownError struct {
	Err error
}

func (e *OutcomeUnknownError) Error() string {
	return "commit cut off, outcome unknown: " + e.Err.Error()
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// NotAppliedError is a change whose connection was lost before COMMIT was
// sent: the server rolled it back, and running it again is safe. Its
// message is the cause's.
type NotAppliedError struct {
	Err error
}

func (e *NotAppliedError) Error() string { return e.Err.Error() }

func (e *NotAppliedError) Unwrap() error { return e.Err }

// UndeleteWindowError refuses to undelete a secret deleted longer ago than
// its project's retention window allows. Like a secret never deleted, there
// is nothing to bring back: it is ErrNotFound to a caller that asks.
type UndeleteWindowError struct {
	What      string
	DeletedAt time.Time
}

func (e *UndeleteWindowError) Error() string {
	return fmt.Sprintf("%s was deleted at %s, past the retention window for undelete; it is removed at the next `pgsecrets history prune`", e.What, e.DeletedAt.UTC().Format(time.RFC3339))
}

func (e *UndeleteWindowError) Is(target error) bool { return target == ErrNotFound }
