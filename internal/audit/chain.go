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
	"strconv"
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
	ActionSecretRollback  = "secret.rollback"
	ActionSecretUndelete  = "secret.undelete"
	ActionSecretDestroy   = "secret.destroy"
	ActionHistoryPrune    = "history.prune"
	ActionRetentionSet    = "history.retention"
	ActionKeyCreate       = "key.create"
	ActionKeyUpdate       = "key.update"
	ActionKeyDelete       = "key.delete"
	ActionKeyRewrap       = "key.rewrap"
	ActionProjectShred    = "project.shred"
	ActionDefaultsSet     = "defaults.set"
	ActionDefaultsDelete  = "defaults.delete"
	ActionConfigRender    = "config.render"
	ActionAuditExport     = "audit.export"
	ActionRootKeyRegister = "rootkey.register"
	ActionAuditKeyRewrap  = "auditkey.rewrap"
	ActionRestartAck      = "restart.ack"

	// Dashboard accounts and their sign-ins. Details never hold a
	// password, a password hash or a session token.
	ActionAccountCreate   = "account.create"
	ActionAccountDisable  = "account.disable"
	ActionAccountEnable   = "account.enable"
	ActionAccountDelete   = "account.delete"
	ActionAccountPassword = "account.password"
	ActionSignIn          = "account.signin"
	ActionSignInFailed    = "account.signin_failed"
	ActionSignOut         = "account.signout"
)

// Actions lists every action above, for pickers and documentation.
var Actions = []string{
	ActionSecretCreate, ActionSecretUpdate, ActionSecretDelete, ActionSecretRead, ActionSecretReencrypt,
	ActionSecretRollback, ActionSecretUndelete, ActionSecretDestroy, ActionHistoryPrune, ActionRetentionSet,
	ActionKeyCreate, ActionKeyUpdate, ActionKeyDelete, ActionKeyRewrap, ActionProjectShred, ActionDefaultsSet, ActionDefaultsDelete,
	ActionConfigRender, ActionAuditExport, ActionRootKeyRegister, ActionAuditKeyRewrap, ActionRestartAck,
	ActionAccountCreate, ActionAccountDisable, ActionAccountEnable, ActionAccountDelete, ActionAccountPassword,
	ActionSignIn, ActionSignInFailed, ActionSignOut,
}

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

// ReadDetails encodes the details of a secret.read event of many names,
// byte for byte as Details encodes {"purpose": purpose, "names": names,
// "not_found": notFound, "read_from": readFrom} (not_found and read_from
// left out when empty), without the reflection that costs a read of
// thousands of names as much as its query.
func ReadDetails(purpose string, names, notFound []string, readFrom string) string {
	size := len(purpose) + len(readFrom) + 56
	for _, n := range names {
		size += len(n) + 3
	}
	for _, n := range notFound {
		size += len(n) + 3
	}
	b := make([]byte, 0, size)
	b = append(b, `{"names":`...)
	b = appendStrings(b, names)
	if len(notFound) > 0 {
		b = append(b, `,"not_found":`...)
		b = appendStrings(b, notFound)
	}
	b = append(b, `,"purpose":`...)
	b = appendJSONString(b, purpose)
	if readFrom != "" {
		b = append(b, `,"read_from":`...)
		b = appendJSONString(b, readFrom)
	}
	return string(append(b, '}'))
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// MAC schemes. Scheme 1 is the first release's: a key derived from a root
// key, over the event alone. Scheme 2 keys are random, kept wrapped in the
// database, and the MAC also covers the deployment and schema, so that a
// chain copied from another deployment does not verify.
const (
	SchemeRootDerived = 1
	SchemeDeployment  = 2
)

// Key is one MAC key of the chain. Its material is unexported, and printing
// a Key shows its kid only.
type Key struct {
	KID    string
	Scheme int
	// LastSeq is 0 while the key may key new events; once a rotation has
	// retired it, the last event it may key.
	LastSeq int64
	secret  []byte
}

// NewKey makes a chain key from its material.
func NewKey(kid string, scheme int, lastSeq int64, secret []byte) *Key {
	return &Key{KID: kid, Scheme: scheme, LastSeq: lastSeq, secret: secret}
}

// String never shows key material.
func (k Key) String() string { return fmt.Sprintf("audit key %s (scheme %d)", k.KID, k.Scheme) }

// Format prints String for every verb, so %#v cannot show the material.
func (k Key) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, k.String()) }

// Chain is what a scheme 2 MAC binds every event to.
type Chain struct {
	Deployment string
	Schema     string
}

// macInput is the canonical, unambiguous encoding of an event for its MAC:
// a JSON array, so no field can bleed into the next.
func macInput(c Chain, scheme int, e *Event) []byte {
	fields := []any{
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
	}
	if scheme == SchemeRootDerived {
		fields = append([]any{"pgsecrets-audit-v1"}, fields...)
	} else {
		fields = append([]any{"pgsecrets-audit-v2", c.Deployment, c.Schema}, fields...)
	}
	b, _ := json.Marshal(fields)
	return b
}

// ComputeMAC returns the event's MAC (hex) under key.
func ComputeMAC(c Chain, key *Key, e *Event) string {
	m := hmac.New(sha256.New, key.secret)
	m.Write(macInput(c, key.Scheme, e))
	return hex.EncodeToString(m.Sum(nil))
}

// Seal links e after prev (seq and MAC of the newest event; 0 and "" for an
// empty chain) and sets its MAC.
func Seal(c Chain, key *Key, prevSeq int64, prevMAC string, e *Event) {
	e.Seq = prevSeq + 1
	e.PrevMAC = prevMAC
	e.MACKID = key.KID
	e.MAC = ComputeMAC(c, key, e)
}

// KeyFunc returns the chain key an event's mac_kid names.
type KeyFunc func(kid string) (*Key, error)

// BrokenLinkError reports the first event where the chain does not hold.
// It never carries a MAC the verifier computed, nor the link it expected:
// printed, either would let someone who can edit rows repair a forged
// chain one event at a time.
type BrokenLinkError struct {
	Seq    int64
	Reason string
}

func (e *BrokenLinkError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// Verifier checks events one at a time, in seq order, in constant memory.
type Verifier struct {
	chain   Chain
	keys    KeyFunc
	cache   map[string]*Key
	prevSeq int64
	prevMAC string
	count   int64
	// scheme is the newest scheme seen: the chain never goes back to an
	// older one.
	scheme int
}

// NewVerifier starts a verification from the beginning of the chain.
func NewVerifier(c Chain, keys KeyFunc) *Verifier {
	return &Verifier{chain: c, keys: keys, cache: map[string]*Key{}}
}

// Next checks e against the events seen so far.
func (v *Verifier) Next(e *Event) error {
	if e.Seq != v.prevSeq+1 {
		return &BrokenLinkError{Seq: v.prevSeq + 1, Reason: fmt.Sprintf("the event is missing (the next event found is %d)", e.Seq)}
	}
	if e.PrevMAC != v.prevMAC {
		return &BrokenLinkError{Seq: e.Seq, Reason: "its link to the event before it does not match that event"}
	}
	key, ok := v.cache[e.MACKID]
	if !ok {
		var err error
		key, err = v.keys(e.MACKID)
		if err != nil {
			return fmt.Errorf("audit event %d is keyed by %s: %w", e.Seq, strconv.Quote(e.MACKID), err)
		}
		v.cache[e.MACKID] = key
	}
	if key.Scheme < v.scheme {
		return &BrokenLinkError{Seq: e.Seq, Reason: fmt.Sprintf("it uses MAC scheme %d after the chain moved to scheme %d", key.Scheme, v.scheme)}
	}
	if key.LastSeq > 0 && e.Seq > key.LastSeq {
		return &BrokenLinkError{Seq: e.Seq, Reason: fmt.Sprintf("it is keyed by audit key %s, which was retired after event %d", strconv.Quote(key.KID), key.LastSeq)}
	}
	if want := ComputeMAC(v.chain, key, e); !hmac.Equal([]byte(want), []byte(e.MAC)) {
		return &BrokenLinkError{Seq: e.Seq, Reason: "its MAC does not match its contents (edited, or not of this deployment)"}
	}
	v.scheme = key.Scheme
	v.prevSeq, v.prevMAC = e.Seq, e.MAC
	v.count++
	return nil
}

// Head returns the seq and MAC of the last verified event, and the count.
func (v *Verifier) Head() (seq int64, mac string, count int64) {
	return v.prevSeq, v.prevMAC, v.count
}
