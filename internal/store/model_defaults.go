package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// Use cases a project can set a default AI provider and model for.
var UseCases = []string{"chat", "code", "summary"}

// ModelDefault is the provider and model a project uses for a use case.
type ModelDefault struct {
	UseCase   string    `json:"use_case"`
	Provider  string    `json:"provider"`
	Model     string    `json:"model"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// GetModelDefaults returns a project's defaults, ordered by use case.
func (s *Store) GetModelDefaults(ctx context.Context, project string) ([]ModelDefault, error) {
	return s.readModelDefaults(ctx, s.pool, project)
}

// querier is what a pool and a transaction have in common for reads.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// execer is what a transaction and a connection inside one have in common
// for statements that return no rows.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (s *Store) readModelDefaults(ctx context.Context, q querier, project string) ([]ModelDefault, error) {
	rows, err := q.Query(ctx, `
		select use_case, provider, model, updated_at, updated_by from `+s.table("provider_defaults")+`
		where project = $1 order by array_position($2::text[], use_case)`, project, UseCases)
	if err != nil {
		return nil, fmt.Errorf("read model defaults of %q: %w", project, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ModelDefault])
	if err != nil {
		return nil, fmt.Errorf("read model defaults of %q: %w", project, err)
	}
	return out, nil
}

// SetModelDefaults replaces a project's defaults with defs: use cases
// not in defs are removed. It is PatchModelDefaults with every other
// use case removed.
func (s *Store) SetModelDefaults(ctx context.Context, project string, defs []ModelDefault) error {
	var remove []string
	for _, uc := range UseCases {
		if !slices.ContainsFunc(defs, func(d ModelDefault) bool { return d.UseCase == uc }) {
			remove = append(remove, uc)
		}
	}
	_, err := s.PatchModelDefaults(ctx, project, defs, remove)
	return err
}

// ValidateUseCase checks a use case name.
func ValidateUseCase(useCase string) error {
	if !slices.Contains(UseCases, useCase) {
		return fmt.Errorf("use case %q is not valid: use %s", useCase, strings.Join(UseCases, ", "))
	}
	return nil
}

// PatchModelDefaults sets some use cases and removes others, leaving the
// rest as they are, in one transaction, and returns the project's defaults
// afterwards: the one way defaults are written, by Terraform, the CLI and
// the dashboard alike. Unlike a read followed by a write, two concurrent
// patches of different use cases both take effect. Its audit event is
// defaults.set, with each use case set ("provider/model") or removed
// (null), or defaults.delete when the project is left with none.
func (s *Store) PatchModelDefaults(ctx context.Context, project string, set []ModelDefault, remove []string) ([]ModelDefault, error) {
	if err := ValidateProject(project); err != nil {
		return nil, err
	}
	details := map[string]any{}
	for _, d := range set {
		if err := ValidateUseCase(d.UseCase); err != nil {
			return nil, err
		}
		details[d.UseCase] = d.Provider + "/" + d.Model
	}
	for _, uc := range remove {
		if err := ValidateUseCase(uc); err != nil {
			return nil, err
		}
		details[uc] = nil
	}
	var out []ModelDefault
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, d := range set {
			_, err := tx.Exec(ctx, `
				insert into `+s.table("provider_defaults")+` (project, use_case, provider, model, updated_by) values ($1, $2, $3, $4, $5)
				on conflict (project, use_case) do update set provider = excluded.provider, model = excluded.model,
					updated_at = now(), updated_by = excluded.updated_by`,
				project, d.UseCase, d.Provider, d.Model, s.actor)
			if err != nil {
				return fmt.Errorf("set %s default of %q: %w", d.UseCase, project, err)
			}
		}
		if len(remove) > 0 {
			if _, err := tx.Exec(ctx, "delete from "+s.table("provider_defaults")+" where project = $1 and use_case = any($2)", project, remove); err != nil {
				return fmt.Errorf("remove model defaults of %q: %w", project, err)
			}
		}
		var err error
		if out, err = s.readModelDefaults(ctx, tx, project); err != nil {
			return err
		}
		action := audit.ActionDefaultsSet
		if len(out) == 0 {
			action = audit.ActionDefaultsDelete
		}
		return s.appendAudit(ctx, tx, &audit.Event{Action: action, Project: project, Details: audit.Details(details)})
	})
	return out, err
}
