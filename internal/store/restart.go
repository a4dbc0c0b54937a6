package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// ChangedSince returns the metadata of the secrets marked RequiresRestart
// that were written after since (in one project, or every project when
// project is empty), ordered by project and name. A deploy pipeline uses
// it to decide whether the application must restart. Deleted secrets are
// not listed: their rows are gone (the audit trail has them).
func (s *Store) ChangedSince(ctx context.Context, project string, since time.Time) ([]SecretMeta, error) {
	rows, err := s.pool.Query(ctx, "select "+s.metaColumns()+` from `+s.table("secrets")+`
		where requires_restart and updated_at > $2 and ($1 = '' or project = $1)
		order by project, name`, project, since)
	if err != nil {
		return nil, fmt.Errorf("list secrets changed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SecretMeta, error) {
		var m SecretMeta
		return m, scanMeta(r, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("list secrets changed since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// RestartChange is a change of a restart-bound secret that the
// application has not been restarted for.
type RestartChange struct {
	Project   string    `json:"project"`
	Name      string    `json:"name"`
	Revision  int64     `json:"revision"`
	ChangedAt time.Time `json:"changed_at"`
	// ChangedBy is who wrote it; empty for a delete (the audit trail has
	// who deleted it).
	ChangedBy string `json:"changed_by,omitempty"`
	Deleted   bool   `json:"deleted"`
}

// RestartAck is the last time someone said a project's application was
// restarted.
type RestartAck struct {
	Project string    `json:"project"`
	AckedAt time.Time `json:"acked_at"`
	AckedBy string    `json:"acked_by"`
}

// PendingRestart is a project whose application must restart to pick up
// the changes listed.
type PendingRestart struct {
	Project string `json:"project"`
	// LastAck is nil when no restart was ever acknowledged.
	LastAck *RestartAck     `json:"last_ack"`
	Changes []RestartChange `json:"changes"`
}

// PendingRestarts lists, per project (one project, or every project when
// project is empty), the restart-bound secrets written or deleted since
// the last restart acknowledgement, ordered by project and name. Projects
// with nothing pending are left out.
func (s *Store) PendingRestarts(ctx context.Context, project string) ([]PendingRestart, error) {
	return readQueued(ctx, s, func(b *pgx.Batch, out *[]PendingRestart) { s.queuePendingRestarts(b, project, out) })
}

// queuePendingRestarts queues PendingRestarts' read into b, to fill *out.
func (s *Store) queuePendingRestarts(b *pgx.Batch, project string, out *[]PendingRestart) {
	s.queueRestartChanges(b, project, func(c RestartChange, ack *RestartAck) {
		if len(*out) == 0 || (*out)[len(*out)-1].Project != c.Project {
			*out = append(*out, PendingRestart{Project: c.Project, LastAck: ack})
		}
		p := &(*out)[len(*out)-1]
		p.Changes = append(p.Changes, c)
	})
}

// queueRestartChanges queues into b the read of the changes pending a
// restart: restart-bound secrets written after their project's last
// acknowledgement, and those deleted after it (kept as deleted versions).
// Each change is handed to each with that acknowledgement, nil when there
// is none: the acknowledgement comes with the changes, so a page that
// shows both needs no second query.
//
// Times are transaction start times, so a write whose transaction began
// before an acknowledgement and committed after it counts as acknowledged;
// writes last milliseconds and restarts far longer, so that window is
// accepted rather than paid for with a lock on every write.
func (s *Store) queueRestartChanges(b *pgx.Batch, project string, each func(RestartChange, *RestartAck)) {
	b.Queue(`
		select s.project, s.name, s.revision, s.updated_at, s.updated_by, false, a.acked_at, a.acked_by
		from `+s.table("secrets")+` s left join `+s.table("restart_acks")+` a on a.project = s.project
		where s.requires_restart and ($1 = '' or s.project = $1) and s.updated_at > coalesce(a.acked_at, '-infinity')
		union all
		select v.project, v.name, v.revision, v.replaced_at, '', true, a.acked_at, a.acked_by
		from `+s.table("secret_versions")+` v left join `+s.table("restart_acks")+` a on a.project = v.project
		where v.deleted and v.requires_restart and ($1 = '' or v.project = $1) and v.replaced_at > coalesce(a.acked_at, '-infinity')
			and not exists (select 1 from `+s.table("secrets")+` s where s.project = v.project and s.name = v.name)
		order by 1, 2`, project).Query(func(rows pgx.Rows) error {
		var (
			c       RestartChange
			ackedAt *time.Time
			ackedBy *string
		)
		_, err := pgx.ForEachRow(rows, []any{&c.Project, &c.Name, &c.Revision, &c.ChangedAt, &c.ChangedBy, &c.Deleted, &ackedAt, &ackedBy}, func() error {
			var ack *RestartAck
			if ackedAt != nil {
				ack = &RestartAck{Project: c.Project, AckedAt: *ackedAt, AckedBy: *ackedBy}
			}
			each(c, ack)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list changes pending a restart: %w", err)
		}
		return nil
	})
}

// AckRestart records that project's application was restarted: the
// changes pending until now are done. It returns the acknowledgement and
// the changes it covered, with a restart.ack audit event naming them, in
// one transaction.
func (s *Store) AckRestart(ctx context.Context, project string) (RestartAck, []RestartChange, error) {
	if err := ValidateProject(project); err != nil {
		return RestartAck{}, nil, err
	}
	var (
		ack     RestartAck
		changes []RestartChange
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		s.queueRestartChanges(b, project, func(c RestartChange, _ *RestartAck) { changes = append(changes, c) })
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, "insert into "+s.table("restart_acks")+` (project, acked_at, acked_by) values ($1, now(), $2)
			on conflict (project) do update set acked_at = excluded.acked_at, acked_by = excluded.acked_by
			returning project, acked_at, acked_by`, project, s.actor).Scan(&ack.Project, &ack.AckedAt, &ack.AckedBy)
		if err != nil {
			return fmt.Errorf("record restart of %q: %w", project, err)
		}
		names := make([]string, len(changes))
		for i, c := range changes {
			names[i] = c.Name
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionRestartAck, Project: project,
			Details: audit.Details(map[string]any{"secrets": names}),
		})
	})
	if err != nil {
		return RestartAck{}, nil, err
	}
	return ack, changes, nil
}
