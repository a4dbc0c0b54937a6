package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// AuditKeyRetiredError is returned when this process's audit key was
// retired by a rotation: the process runs with a first root key that
// `pgsecrets reencrypt` has since moved away from.
type AuditKeyRetiredError struct {
	KID     string
	RootKID string
}

func (e *AuditKeyRetiredError) Error() string {
	return fmt.Sprintf("audit key %q of root key %q was retired by a key rotation: this process runs with an old first root key; deploy the current root keys (the new key first) and retry", e.KID, e.RootKID)
}

// auditHead is the chain head as audit_lock_head returns it, locked for
// an append: the newest event, the transaction's time, the database role,
// and the appending key's last_seq (nil when no such key is stored).
type auditHead struct {
	seq     int64
	mac     string
	at      time.Time
	role    string
	lastSeq *int64
}

func (h *auditHead) dest() []any { return []any{&h.seq, &h.mac, &h.at, &h.role, &h.lastSeq} }

func (s *Store) lockHeadSQL() string {
	return "select seq, mac, at, db_role, key_last_seq from " + s.table("audit_lock_head") + "($1)"
}

func (s *Store) insertAuditSQL() string {
	return "insert into " + s.table("audit_events") + " (" + auditColumns + ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
}

// appendAudit links events onto the chain inside tx. It locks the chain
// head, so call it last in a transaction: concurrent writers queue on that
// row lock only for the moment before their commit.
func (s *Store) appendAudit(ctx context.Context, tx pgx.Tx, events ...*audit.Event) error {
	if err := s.needKeys("append an audit event"); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	key, head, err := s.lockHeadForAppend(ctx, tx)
	if err != nil {
		return err
	}
	rows := s.sealAudit(key, head, events)
	if len(rows) == 1 {
		// The common case, one event: an INSERT is one round trip, where
		// COPY takes two (start, then data).
		if _, err := tx.Exec(ctx, s.insertAuditSQL(), rows[0]...); err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		return nil
	}
	// COPY fires the chain trigger row by row, in order, in one stream.
	_, err = tx.CopyFrom(ctx, pgx.Identifier{s.schema, "audit_events"}, strings.Split(auditColumns, ", "), pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// lockHeadForAppend locks the chain head in tx for an append under this
// process's audit key (opened, or made, through tx), which it returns with
// the head.
func (s *Store) lockHeadForAppend(ctx context.Context, tx pgx.Tx) (*audit.Key, auditHead, error) {
	var head auditHead
	for attempt := 0; ; attempt++ {
		key, err := s.currentAuditKey(ctx, tx)
		if err != nil {
			return nil, head, err
		}
		if err := tx.QueryRow(ctx, s.lockHeadSQL(), key.KID).Scan(head.dest()...); err != nil {
			return nil, head, fmt.Errorf("lock audit chain head: %w", err)
		}
		if head.lastSeq != nil || attempt > 0 {
			return key, head, s.checkAuditKeyOpen(key, head)
		}
		// No such key: it was made in a transaction that rolled back.
		s.forgetAuditKey(key)
	}
}

// checkAuditKeyOpen refuses to append under a key that the locked head
// shows retired, or missing.
func (s *Store) checkAuditKeyOpen(key *audit.Key, head auditHead) error {
	if head.lastSeq == nil || *head.lastSeq != 0 {
		s.forgetAuditKey(key)
		return &AuditKeyRetiredError{KID: key.KID, RootKID: s.keys.RootKey().KID}
	}
	return nil
}

// sealAudit links events after the locked head and returns them as rows
// of auditColumns.
func (s *Store) sealAudit(key *audit.Key, head auditHead, events []*audit.Event) [][]any {
	chain := s.auditChain()
	seq, mac := head.seq, head.mac
	rows := make([][]any, len(events))
	for i, e := range events {
		e.At, e.Actor, e.DBRole = head.at, s.actor, head.role
		if e.Details == "" {
			e.Details = "{}"
		}
		audit.Seal(chain, key, seq, mac, e)
		seq, mac = e.Seq, e.MAC
		rows[i] = []any{e.Seq, e.At, e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC}
	}
	return rows
}

// auditAlone appends one event in a transaction of its own in two round
// trips, where appendAudit in a transaction takes four or five: BEGIN and
// the head lock go together (with, for a process's first event, the read
// of its audit key), then the INSERT and the COMMIT. It returns only once
// the event is committed, or with an error. When it cannot (no audit key
// yet, one that turns out not to be stored, or a first event under a root
// a key service holds, whose unwrap must not happen while the head is
// locked) done is false, nothing was written, and the caller appends the
// ordinary way, which opens or makes the key.
func (s *Store) auditAlone(ctx context.Context, e *audit.Event) (done bool, err error) {
	key := s.openedAuditKey()
	if key == nil && s.keys.RootKey().Wrapper() != nil {
		return false, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return true, fmt.Errorf("append audit event: %w", err)
	}
	defer releaseEndingTx(ctx, conn)

	var (
		head         auditHead
		kid, wrapped string
	)
	b := &pgx.Batch{}
	b.Queue("begin")
	if key != nil {
		b.Queue(s.lockHeadSQL(), key.KID).QueryRow(func(row pgx.Row) error { return row.Scan(head.dest()...) })
	} else {
		// The open audit key of the first root key, as readOpenAuditKey
		// reads it, and the head locked for it, in one statement.
		b.Queue("select k.kid, k.wrapped_key, h.seq, h.mac, h.at, h.db_role, h.key_last_seq from "+s.table("audit_keys")+" k cross join lateral "+
			s.table("audit_lock_head")+"(k.kid) h where "+openAuditKeyWhere("k."), s.keys.RootKey().KID).
			QueryRow(func(row pgx.Row) error { return row.Scan(append([]any{&kid, &wrapped}, head.dest()...)...) })
	}
	if err := conn.SendBatch(ctx, b).Close(); errors.Is(err, pgx.ErrNoRows) {
		return false, nil // no audit key yet: the ordinary way makes it
	} else if err != nil {
		return true, fmt.Errorf("lock audit chain head: %w", err)
	}
	if key == nil {
		if key, err = s.openAuditKey(kid, wrapped); err != nil {
			return true, err
		}
	}
	if head.lastSeq == nil {
		// Made in a transaction that rolled back: the ordinary way makes
		// another.
		s.forgetAuditKey(key)
		return false, nil
	}
	if err := s.checkAuditKeyOpen(key, head); err != nil {
		return true, err
	}

	row := s.sealAudit(key, head, []*audit.Event{e})[0]
	b = &pgx.Batch{}
	b.Queue(s.insertAuditSQL(), row...)
	b.Queue("commit").Exec(committed)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return true, fmt.Errorf("append audit event: %w", err)
	}
	return true, nil
}

// auditChain is what this deployment's MACs are bound to.
func (s *Store) auditChain() audit.Chain {
	return audit.Chain{Deployment: s.deployment, Schema: s.schema}
}

// Audit records events that go with no change of their own, such as reads
// and exports, in their own transaction on the primary, committed when it
// returns nil. Not through inTx: an audited read is no write that later
// reads must see.
func (s *Store) Audit(ctx context.Context, events ...*audit.Event) error {
	if len(events) == 1 {
		if err := s.needKeys("append an audit event"); err != nil {
			return err
		}
		if done, err := s.auditAlone(ctx, events[0]); done {
			return err
		}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.appendAudit(ctx, tx, events...) })
}
