package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// appendAudit links events onto the chain inside tx. It locks the chain
// head, so call it last in a transaction: concurrent writers queue on that
// row lock only for the moment before their commit.
func (s *Store) appendAudit(ctx context.Context, tx pgx.Tx, events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	var (
		seq  int64
		mac  string
		now  time.Time
		role string
	)
	err := tx.QueryRow(ctx, "select seq, mac, now(), session_user::text from audit_head for update").Scan(&seq, &mac, &now, &role)
	if err != nil {
		return fmt.Errorf("lock audit chain head: %w", err)
	}
	rows := make([][]any, len(events))
	for i, e := range events {
		e.At, e.Actor, e.DBRole = now, s.actor, role
		if e.Details == "" {
			e.Details = "{}"
		}
		audit.Seal(s.auditKey, s.auditKeyKID, seq, mac, e)
		seq, mac = e.Seq, e.MAC
		rows[i] = []any{e.Seq, e.At, e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC}
	}
	// COPY fires the chain trigger row by row, in order, in one round trip.
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_events"},
		[]string{"seq", "at", "actor", "db_role", "action", "project", "subject", "details", "mac_kid", "prev_mac", "mac"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// Audit records events that go with no change of their own, such as reads
// and exports, in their own transaction.
func (s *Store) Audit(ctx context.Context, events ...*audit.Event) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return s.appendAudit(ctx, tx, events...) })
}
