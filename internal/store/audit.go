package store

import (
	"context"
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
	var (
		key     *audit.Key
		seq     int64
		mac     string
		now     time.Time
		role    string
		lastSeq *int64
	)
	for attempt := 0; ; attempt++ {
		var err error
		if key, err = s.currentAuditKey(ctx, tx); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, "select seq, mac, at, db_role, key_last_seq from "+s.table("audit_lock_head")+"($1)", key.KID).
			Scan(&seq, &mac, &now, &role, &lastSeq)
		if err != nil {
			return fmt.Errorf("lock audit chain head: %w", err)
		}
		if lastSeq != nil || attempt > 0 {
			break
		}
		// No such key: it was made in a transaction that rolled back.
		s.forgetAuditKey(key)
	}
	if lastSeq == nil || *lastSeq != 0 {
		s.forgetAuditKey(key)
		return &AuditKeyRetiredError{KID: key.KID, RootKID: s.keys.RootKey().KID}
	}
	chain := s.auditChain()
	rows := make([][]any, len(events))
	for i, e := range events {
		e.At, e.Actor, e.DBRole = now, s.actor, role
		if e.Details == "" {
			e.Details = "{}"
		}
		audit.Seal(chain, key, seq, mac, e)
		seq, mac = e.Seq, e.MAC
		rows[i] = []any{e.Seq, e.At, e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC}
	}
	if len(rows) == 1 {
		// The common case, one event: an INSERT is one round trip, where
		// COPY takes two (start, then data).
		_, err := tx.Exec(ctx, "insert into "+s.table("audit_events")+" ("+auditColumns+
			") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", rows[0]...)
		if err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		return nil
	}
	// COPY fires the chain trigger row by row, in order, in one stream.
	_, err := tx.CopyFrom(ctx, pgx.Identifier{s.schema, "audit_events"}, strings.Split(auditColumns, ", "), pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// auditChain is what this deployment's MACs are bound to.
func (s *Store) auditChain() audit.Chain {
	return audit.Chain{Deployment: s.deployment, Schema: s.schema}
}

// Audit records events that go with no change of their own, such as reads
// and exports, in their own transaction, on the primary. Not through inTx:
// an audited read is no write that later reads must see.
func (s *Store) Audit(ctx context.Context, events ...*audit.Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.appendAudit(ctx, tx, events...) })
}
