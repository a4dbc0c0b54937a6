package store

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInUse    = errors.New("in use")
)

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

// KeyInUseError refuses to retire a key that still protects something.
type KeyInUseError struct {
	KID     string
	Secrets int64
	Keys    int64 // data keys wrapped by it, for a root key
}

func (e *KeyInUseError) Error() string {
	return fmt.Sprintf("key %q still encrypts %d secret(s) and %d data key(s); make another key primary and run `pgsecrets reencrypt` first", e.KID, e.Secrets, e.Keys)
}

func (e *KeyInUseError) Is(target error) bool { return target == ErrInUse }
