// Package audit defines audit events and the keyed hash chain that links
// them. Each event's MAC covers its fields and the previous event's MAC,
// with a key derived from a root key: whoever can write to the database but
// holds no root key cannot edit, insert or reorder events without breaking
// the chain. It knows nothing of SQL; the store persists events.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Event is one audited action. Details never hold a secret value nor
// anything derived from one.
type Event struct {
	Seq     int64
	At      time.Time
	Actor   string
	DBRole  string
	Action  string
	Project string
	Subject string // secret name or key id
	Details string // a JSON object
	MACKID  string
	PrevMAC string
	MAC     string
}

// Actions recorded in the audit trail.
const (
	ActionSecretCreate    = "secret.create"
	ActionSecretUpdate    = "secret.update"
	ActionSecretDelete    = "secret.delete"
	ActionSecretRead      = "secret.read"
	ActionSecretReencrypt = "secret.reencrypt"
	ActionKeyCreate       = "key.create"
	ActionKeyUpdate       = "key.update"
	ActionKeyDelete       = "key.delete"
	ActionKeyRewrap       = "key.rewrap"
	ActionDefaultsSet     = "defaults.set"
	ActionDefaultsDelete  = "defaults.delete"
	ActionConfigRender    = "config.render"
	ActionAuditExport     = "audit.export"
)

// Details encodes a details object. Map keys are sorted by encoding/json, so
// equal details give equal bytes.
func Details(fields map[string]any) string {
	if len(fields) == 0 {
		return "{}"
	}
	b, err := json.Marshal(fields)
	if err != nil {
		// Only programming errors (unencodable values) reach here.
		panic(fmt.Sprintf("audit details: %v", err))
	}
	return string(b)
}

// macInput is the canonical, unambiguous encoding of an event for its MAC:
// a JSON array, so no field can bleed into the next.
func macInput(e *Event) []byte {
	b, _ := json.Marshal([]any{
		"pgsecrets-audit-v1",
		e.Seq,
		e.At.UTC().Format(time.RFC3339Nano),
		e.Actor,
		e.DBRole,
		e.Action,
		e.Project,
		e.Subject,
		e.Details,
		e.MACKID,
		e.PrevMAC,
	})
	return b
}

// ComputeMAC returns the event's MAC (hex) under key.
func ComputeMAC(key []byte, e *Event) string {
	m := hmac.New(sha256.New, key)
	m.Write(macInput(e))
	return hex.EncodeToString(m.Sum(nil))
}

// Seal links e after prev (seq and MAC of the newest event; 0 and "" for an
// empty chain) and sets its MAC.
func Seal(key []byte, macKID string, prevSeq int64, prevMAC string, e *Event) {
	e.Seq = prevSeq + 1
	e.PrevMAC = prevMAC
	e.MACKID = macKID
	e.MAC = ComputeMAC(key, e)
}

// KeyFunc returns the MAC key for a root key id.
type KeyFunc func(kid string) ([]byte, error)

// BrokenLinkError reports the first event where the chain does not hold.
type BrokenLinkError struct {
	Seq      int64
	Reason   string
	Expected string
	Found    string
}

func (e *BrokenLinkError) Error() string {
	if e.Expected == "" && e.Found == "" {
		return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
	}
	return fmt.Sprintf("audit chain broken at event %d: %s (expected %s, found %s)", e.Seq, e.Reason, e.Expected, e.Found)
}

// Verifier checks events one at a time, in seq order, in constant memory.
type Verifier struct {
	keys    KeyFunc
	cache   map[string][]byte
	prevSeq int64
	prevMAC string
	count   int64
}

// NewVerifier starts a verification from the beginning of the chain.
func NewVerifier(keys KeyFunc) *Verifier {
	return &Verifier{keys: keys, cache: map[string][]byte{}}
}

// Next checks e against the events seen so far.
func (v *Verifier) Next(e *Event) error {
	if e.Seq != v.prevSeq+1 {
		return &BrokenLinkError{Seq: v.prevSeq + 1, Reason: "event missing", Expected: fmt.Sprintf("seq %d", v.prevSeq+1), Found: fmt.Sprintf("seq %d", e.Seq)}
	}
	if e.PrevMAC != v.prevMAC {
		return &BrokenLinkError{Seq: e.Seq, Reason: "previous-MAC link does not match the event before it", Expected: v.prevMAC, Found: e.PrevMAC}
	}
	key, ok := v.cache[e.MACKID]
	if !ok {
		var err error
		key, err = v.keys(e.MACKID)
		if err != nil {
			return fmt.Errorf("audit event %d is keyed by root key %q: %w", e.Seq, e.MACKID, err)
		}
		v.cache[e.MACKID] = key
	}
	if want := ComputeMAC(key, e); !hmac.Equal([]byte(want), []byte(e.MAC)) {
		return &BrokenLinkError{Seq: e.Seq, Reason: "MAC does not match the event's contents", Expected: want, Found: e.MAC}
	}
	v.prevSeq, v.prevMAC = e.Seq, e.MAC
	v.count++
	return nil
}

// Head returns the seq and MAC of the last verified event, and the count.
func (v *Verifier) Head() (seq int64, mac string, count int64) {
	return v.prevSeq, v.prevMAC, v.count
}
