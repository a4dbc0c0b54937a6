package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// AuditFilter selects audit events for an export; zero fields match all.
type AuditFilter struct {
	Since   time.Time // at >= Since
	Until   time.Time // at < Until
	Project string
	Actor   string
	Action  string
	// Projects, when not empty, keeps events of these projects only: what
	// a dashboard account limited to them may see.
	Projects []string
}

// details is the filter as recorded in the export's own audit event.
func (f AuditFilter) details(format string) string {
	d := map[string]any{"format": format}
	if !f.Since.IsZero() {
		d["since"] = f.Since.UTC().Format(time.RFC3339Nano)
	}
	if !f.Until.IsZero() {
		d["until"] = f.Until.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range map[string]string{"project": f.Project, "actor": f.Actor, "action": f.Action} {
		if v != "" {
			d[k] = v
		}
	}
	if len(f.Projects) > 0 {
		d["projects"] = f.Projects
	}
	return audit.Details(d)
}

// where builds the filter's SQL condition with its arguments, so that each
// export gets a plan for exactly its filters (the at index for a time
// range).
func (f AuditFilter) where() (string, []any) {
	var (
		conds []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until)
	}
	if f.Project != "" {
		add("project = ?", f.Project)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if len(f.Projects) > 0 {
		add("project = any(?)", f.Projects)
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " and "), args
}

const auditColumns = "seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac"

// ExportAudit records an audit.export event naming the filters and format,
// then streams the matching events, in seq order, to fn. The event passed
// to fn is reused: fn must not keep it. Rows are read off the connection
// as fn consumes them, so memory stays constant whatever the count. The
// export's own event is committed first, so an interrupted export is on
// record too; it is included when it matches the filters.
//
// A store without root keys cannot seal that event: it exports without
// it, and the caller says so.
func (s *Store) ExportAudit(ctx context.Context, f AuditFilter, format string, fn func(*audit.Event) error) (int64, error) {
	if s.HasKeys() {
		if err := s.Audit(ctx, &audit.Event{Action: audit.ActionAuditExport, Details: f.details(format)}); err != nil {
			return 0, err
		}
	}
	where, args := f.where()
	n, err := s.streamAudit(ctx, s.pool, "select "+auditColumns+" from "+s.table("audit_events")+" where "+where+" order by seq", args, fn)
	if err != nil {
		return n, fmt.Errorf("export audit events: %w", err)
	}
	return n, nil
}

// AuditEvents returns up to limit events matching f, newest first, with a
// seq below before (0: from the newest). The caller passes the last seq it
// got as the next page's before: paging by key keeps every page as fast as
// the first, however deep, where an offset would rescan what it skips.
func (s *Store) AuditEvents(ctx context.Context, f AuditFilter, before int64, limit int) ([]audit.Event, error) {
	where, args := f.where()
	if before > 0 {
		args = append(args, before)
		where += " and seq < $" + strconv.Itoa(len(args))
	}
	args = append(args, limit)
	var out []audit.Event
	_, err := s.streamAudit(ctx, s.pool, "select "+auditColumns+" from "+s.table("audit_events")+" where "+where+
		" order by seq desc limit $"+strconv.Itoa(len(args)), args, func(e *audit.Event) error {
		out = append(out, *e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	return out, nil
}

// streamAudit runs sql, which selects auditColumns, and passes each event
// to fn. The text fields of an event are cut from one string per row,
// copied once from the row's raw values: a string of its own for each
// field costs nine allocations an event, a large share of an export's
// time. The strings stay valid after the next row: an event may be kept.
func (s *Store) streamAudit(ctx context.Context, q querier, sql string, args []any, fn func(*audit.Event) error) (int64, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		e audit.Event
		n int64
	)
	fields := rows.FieldDescriptions()
	texts := []*string{&e.Actor, &e.DBRole, &e.Action, &e.Project, &e.Subject, &e.Details, &e.MACKID, &e.PrevMAC, &e.MAC}
	if len(fields) != 2+len(texts) {
		return 0, fmt.Errorf("audit events: %d columns, want %d", len(fields), 2+len(texts))
	}
	for _, f := range fields[2:] {
		if f.DataTypeOID != pgtype.TextOID {
			return 0, fmt.Errorf("audit events: column %s is not text (type %d)", f.Name, f.DataTypeOID)
		}
	}
	types := rows.Conn().TypeMap()
	seqPlan := types.PlanScan(fields[0].DataTypeOID, fields[0].Format, &e.Seq)
	atPlan := types.PlanScan(fields[1].DataTypeOID, fields[1].Format, &e.At)
	for rows.Next() {
		raw := rows.RawValues()
		if err := seqPlan.Scan(raw[0], &e.Seq); err != nil {
			return n, fmt.Errorf("read audit event seq: %w", err)
		}
		if err := atPlan.Scan(raw[1], &e.At); err != nil {
			return n, fmt.Errorf("read audit event %d: at: %w", e.Seq, err)
		}
		size := 0
		for _, v := range raw[2:] {
			size += len(v)
		}
		var b strings.Builder
		b.Grow(size)
		for _, v := range raw[2:] {
			b.Write(v)
		}
		row, off := b.String(), 0
		for i, v := range raw[2:] {
			*texts[i] = row[off : off+len(v)]
			off += len(v)
		}
		if err := fn(&e); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// WalkAuditChain streams every event, in seq order, to fn, then returns the
// chain head the database records (audit_head), all read from one snapshot
// so that appends during the walk cannot look like tampering. fn must not
// keep the event.
func (s *Store) WalkAuditChain(ctx context.Context, fn func(*audit.Event) error) (headSeq int64, headMAC string, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "select seq, mac from "+s.table("audit_head")).Scan(&headSeq, &headMAC); err != nil {
			return fmt.Errorf("read audit chain head: %w", err)
		}
		if _, err := s.streamAudit(ctx, tx, "select "+auditColumns+" from "+s.table("audit_events")+" order by seq", nil, fn); err != nil {
			return fmt.Errorf("walk audit chain: %w", err)
		}
		return nil
	})
	return headSeq, headMAC, err
}

// VerifyAuditChain checks every event's MAC and link, from the first to
// the head, in one snapshot; expectHead, when not empty, is the MAC of a
// head recorded earlier, which must still be in the chain.
func (s *Store) VerifyAuditChain(ctx context.Context, expectHead string) (audit.ChainReport, error) {
	keys, err := s.AuditKeys(ctx)
	if err != nil {
		return audit.ChainReport{}, err
	}
	walk := audit.NewChainWalk(s.auditChain(), keys, expectHead)
	headSeq, headMAC, err := s.WalkAuditChain(ctx, walk.Next)
	if err != nil {
		return audit.ChainReport{}, err
	}
	return walk.Finish(headSeq, headMAC)
}
