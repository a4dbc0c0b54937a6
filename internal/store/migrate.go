package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/migrations"
)

const versionTable = "schema_version"

// Migration is one embedded migration and whether it has been applied.
type Migration struct {
	Version int32
	Name    string
	Applied bool
}

// MigrationStatus is where a schema stands against this binary.
type MigrationStatus struct {
	Schema     string
	Current    int32
	Latest     int32
	Migrations []Migration
}

// LatestVersion is the schema version this binary needs.
func LatestVersion() int32 {
	files, err := migrationFiles()
	if err != nil {
		panic(fmt.Sprintf("embedded migrations: %v", err))
	}
	return int32(len(files))
}

// migrationFiles lists the embedded migrations in order, refusing a gap
// or a duplicate number: a migration skipped silently would leave a
// schema that says it is current but is not.
func migrationFiles() ([]string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for i, name := range names {
		n, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil || n != i+1 {
			return nil, fmt.Errorf("migration %s is out of sequence: want number %03d", name, i+1)
		}
	}
	return names, nil
}

// renderMigration reads a migration and fills in the schema name.
func renderMigration(name, schema string) (string, error) {
	body, err := fs.ReadFile(migrations.FS, name)
	if err != nil {
		return "", err
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(body))
	if err != nil {
		return "", fmt.Errorf("migration %s: %w", name, err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, map[string]string{"schema": schema}); err != nil {
		return "", fmt.Errorf("migration %s: %w", name, err)
	}
	return out.String(), nil
}

// Migrate applies every pending migration in one transaction, under a
// transaction-scoped advisory lock so that concurrent runs wait for each
// other. Nothing outlives the transaction (no session lock, no session
// setting), so it works through a transaction pooler like everything else:
// the migrations and the version bump commit together or not at all.
// onApply, when not nil, is told of each migration as it starts.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, onApply func(version int32, name string)) (MigrationStatus, error) {
	return MigrateTo(ctx, pool, schema, LatestVersion(), onApply)
}

// MigrateTo is Migrate up to version target only: upgrade tests build a
// store as an older release left it. A binary opens only a store at its
// latest version.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, schema string, target int32, onApply func(version int32, name string)) (MigrationStatus, error) {
	if err := ValidateSchema(schema); err != nil {
		return MigrationStatus{}, err
	}
	files, err := migrationFiles()
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("load embedded migrations: %w", err)
	}
	if target < 0 || int(target) > len(files) {
		return MigrationStatus{}, fmt.Errorf("migrate to version %d: this binary has migrations 1 to %d", target, len(files))
	}
	files = files[:target]
	version := pgx.Identifier{schema, versionTable}.Sanitize()
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock(hashtextextended($1, 0))", "pgsecrets migrate "+schema); err != nil {
			return fmt.Errorf("wait for other migrations of schema %s: %w", schema, err)
		}
		// One statement per Exec with no arguments: pgx sends it with the
		// simple protocol, which runs a migration's many statements.
		for _, sql := range []string{
			"create schema if not exists " + pgx.Identifier{schema}.Sanitize(),
			"create table if not exists " + version + " (version int4 not null)",
			"insert into " + version + " (version) select 0 where not exists (select 1 from " + version + ")",
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("prepare schema %s: %w", schema, err)
			}
		}
		var current int32
		if err := tx.QueryRow(ctx, "select version from "+version+" for update").Scan(&current); err != nil {
			return fmt.Errorf("read schema version of %s: %w", schema, err)
		}
		if int(current) > len(files) {
			return &SchemaVersionError{Schema: schema, Current: current, Latest: int32(len(files))}
		}
		for i := int(current); i < len(files); i++ {
			if onApply != nil {
				onApply(int32(i+1), files[i])
			}
			sql, err := renderMigration(files[i], schema)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("migration %s failed: %w", files[i], err)
			}
			if _, err := tx.Exec(ctx, "update "+version+" set version = $1", int32(i+1)); err != nil {
				return fmt.Errorf("record migration %s: %w", files[i], err)
			}
		}
		return nil
	})
	if err != nil {
		return MigrationStatus{}, err
	}
	return Status(ctx, pool, schema)
}

// Status reports the schema's version and each migration, without
// changing anything.
func Status(ctx context.Context, pool *pgxpool.Pool, schema string) (MigrationStatus, error) {
	if err := ValidateSchema(schema); err != nil {
		return MigrationStatus{}, err
	}
	current, err := currentVersion(ctx, pool, schema)
	if err != nil {
		return MigrationStatus{}, err
	}
	names, err := migrationFiles()
	if err != nil {
		return MigrationStatus{}, err
	}
	st := MigrationStatus{Schema: schema, Current: current, Latest: int32(len(names))}
	for i, name := range names {
		v := int32(i + 1)
		st.Migrations = append(st.Migrations, Migration{Version: v, Name: name, Applied: v <= current})
	}
	return st, nil
}

// currentVersion reads the schema's version; 0 when it was never migrated.
func currentVersion(ctx context.Context, pool *pgxpool.Pool, schema string) (int32, error) {
	var v int32
	err := pool.QueryRow(ctx, "select version from "+pgx.Identifier{schema, versionTable}.Sanitize()).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // undefined table / schema
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", schema, err)
	}
	return v, nil
}

// SchemaVersionError says the schema does not match this binary.
type SchemaVersionError struct {
	Schema          string
	Current, Latest int32
}

func (e *SchemaVersionError) Error() string {
	switch {
	case e.Current == 0:
		return fmt.Sprintf("schema %q is not migrated; run `pgsecrets migrate up` (with the same database URL and --schema %s)", e.Schema, e.Schema)
	case e.Current < e.Latest:
		return fmt.Sprintf("schema %q is at version %d but this pgsecrets needs version %d; run `pgsecrets migrate up`", e.Schema, e.Current, e.Latest)
	default:
		return fmt.Sprintf("schema %q is at version %d, newer than this pgsecrets knows (%d); upgrade pgsecrets", e.Schema, e.Current, e.Latest)
	}
}

// CheckSchemaVersion refuses a schema older or newer than this binary.
func CheckSchemaVersion(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	current, err := currentVersion(ctx, pool, schema)
	if err != nil {
		return err
	}
	if latest := LatestVersion(); current != latest {
		return &SchemaVersionError{Schema: schema, Current: current, Latest: latest}
	}
	return nil
}

// GrantRuntime gives role what the runtime role needs and nothing more:
// read and write secrets, data keys, model defaults and restart
// acknowledgements; append audit events, register root keys and keep
// audit keys. It may read audit_head but not lock or move it (only the
// owner's functions do), has no right to update or delete audit events,
// and, not owning the tables, cannot disable their triggers. It has no
// right at all on the dashboard's accounts, sessions and sign-in counters:
// the credentials applications hold cannot sign anyone in, re-point or
// extend a session, or read a password hash. Run it as the owner after
// Migrate; it is idempotent.
func GrantRuntime(ctx context.Context, pool *pgxpool.Pool, schema, role string) error {
	stmts, err := runtimeGrants(schema, role)
	if err != nil {
		return err
	}
	return grant(ctx, pool, role, stmts)
}

// GrantDashboard gives role what `pgsecrets serve` needs: the runtime
// role's rights (the dashboard reads and writes secrets through the same
// store), and the dashboard's own state: read accounts, password hashes
// included, for sign-in; disable and enable them (only the owner creates,
// re-passwords or removes one, so the dashboard role cannot change an
// account's role or projects); start, touch and end sessions (it cannot
// change a session's account or terms, and a writer who does without the
// root keys breaks the session's seal); count sign-in attempts; read how
// many secrets each project has (kept by the owner's triggers). Run it as
// the owner after Migrate; it is idempotent.
func GrantDashboard(ctx context.Context, pool *pgxpool.Pool, schema, role string) error {
	stmts, err := runtimeGrants(schema, role)
	if err != nil {
		return err
	}
	r := pgx.Identifier{role}.Sanitize()
	stmts = append(stmts,
		"grant select, update (disabled, updated_at, updated_by) on "+schema+".dashboard_accounts to "+r,
		"grant select, insert, delete, update (last_seen_at) on "+schema+".dashboard_sessions to "+r,
		"grant select, insert, update, delete on "+schema+".dashboard_signin_failures to "+r,
		"grant select on "+schema+".secret_counts to "+r,
	)
	return grant(ctx, pool, role, stmts)
}

func runtimeGrants(schema, role string) ([]string, error) {
	if err := ValidateSchema(schema); err != nil {
		return nil, err
	}
	if role == "" {
		return nil, errors.New("grant: a role name is required")
	}
	r := pgx.Identifier{role}.Sanitize()
	t := func(names ...string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = schema + "." + n
		}
		return strings.Join(q, ", ")
	}
	return []string{
		"grant usage on schema " + schema + " to " + r,
		"grant select on " + t(versionTable, "deployment", "audit_head") + " to " + r,
		"grant select, insert, update, delete on " + t("secrets", "secret_versions", "history_retention", "encryption_keys", "project_keys",
			"provider_defaults", "restart_acks") + " to " + r,
		"grant select, insert on " + t("audit_events", "root_keys") + " to " + r,
		// reencrypt moves an upgraded store to project keys
		"grant select, update (project_keys_since) on " + t("key_scheme") + " to " + r,
		"grant select, insert, update on " + t("audit_keys") + " to " + r,
		"grant execute on function " + schema + ".audit_lock_head(text), " + schema + ".ciphertext_header(text), " + schema + ".key_usage() to " + r,
	}, nil
}

// Metadata columns: what a planner may read, which the metadata reads
// select. No ciphertext, no wrapped key, no key check value.
const (
	secretMetaColumns  = metaColumnsNoDigest + ", last_action"
	versionMetaColumns = "project, name, revision, kid, bound, description, category, requires_restart, action, written_at, written_by, replaced_at, deleted"
)

// GrantPlanner gives role what `terraform plan` and the metadata commands
// need with no root keys, and nothing more: SELECT on the metadata columns
// of secrets, their versions, data keys and project keys (no ciphertext,
// no wrapped key material), on model defaults, retention and restart acknowledgements,
// the root keys' kids (not their check values), and the key usage counts.
// No audit table: events need no reading to plan. Run it as the owner
// after Migrate; it is idempotent.
func GrantPlanner(ctx context.Context, pool *pgxpool.Pool, schema, role string) error {
	if err := ValidateSchema(schema); err != nil {
		return err
	}
	if role == "" {
		return errors.New("grant: a role name is required")
	}
	r := pgx.Identifier{role}.Sanitize()
	stmts := []string{
		"grant usage on schema " + schema + " to " + r,
		"grant select on " + schema + "." + versionTable + ", " + schema + ".deployment, " + schema + ".key_scheme, " + schema + ".provider_defaults, " + schema + ".history_retention, " + schema + ".restart_acks to " + r,
		"grant select (" + secretMetaColumns + ") on " + schema + ".secrets to " + r,
		"grant select (" + versionMetaColumns + ") on " + schema + ".secret_versions to " + r,
		"grant select (" + keyColumns + ") on " + schema + ".encryption_keys to " + r,
		"grant select (" + projectKeyColumns + ") on " + schema + ".project_keys to " + r,
		"grant select (kid) on " + schema + ".root_keys to " + r,
		"grant execute on function " + schema + ".key_usage() to " + r,
	}
	return grant(ctx, pool, role, stmts)
}

// grant runs grant statements for role in one transaction.
func grant(ctx context.Context, pool *pgxpool.Pool, role string, stmts []string) error {
	r := pgx.Identifier{role}.Sanitize()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, sql := range stmts {
			if _, err := tx.Exec(ctx, sql); err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "42704" {
					return fmt.Errorf("grant to role %q: the role does not exist; create it first (create role %s login password '...')", role, r)
				}
				return fmt.Errorf("grant to role %q: %w", role, err)
			}
		}
		return nil
	})
}
