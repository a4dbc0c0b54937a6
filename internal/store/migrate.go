package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

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
	names, err := migrate.FindMigrations(migrations.FS)
	if err != nil {
		panic(fmt.Sprintf("embedded migrations: %v", err))
	}
	return int32(len(names))
}

func newMigrator(ctx context.Context, conn *pgx.Conn, schema string) (*migrate.Migrator, error) {
	if _, err := conn.Exec(ctx, "create schema if not exists "+schema); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	m, err := migrate.NewMigrator(ctx, conn, schema+"."+versionTable)
	if err != nil {
		return nil, fmt.Errorf("prepare migrations in schema %s: %w", schema, err)
	}
	m.Data["schema"] = schema
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return nil, fmt.Errorf("load embedded migrations: %w", err)
	}
	return m, nil
}

func withConn(ctx context.Context, pool *pgxpool.Pool, fn func(*pgx.Conn) error) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	defer c.Release()
	return fn(c.Conn())
}

// Migrate applies every pending migration, each in its own transaction,
// under tern's advisory lock so concurrent runs wait for each other.
// onApply, when not nil, is told of each migration as it starts.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, onApply func(version int32, name string)) (MigrationStatus, error) {
	if err := ValidateSchema(schema); err != nil {
		return MigrationStatus{}, err
	}
	err := withConn(ctx, pool, func(conn *pgx.Conn) error {
		m, err := newMigrator(ctx, conn, schema)
		if err != nil {
			return err
		}
		if onApply != nil {
			m.OnStart = func(seq int32, name, _, _ string) { onApply(seq, name) }
		}
		if err := m.Migrate(ctx); err != nil {
			var me migrate.MigrationPgError
			if errors.As(err, &me) {
				return fmt.Errorf("migration %s failed: %w", me.MigrationName, me.PgError)
			}
			return fmt.Errorf("migrate schema %s: %w", schema, err)
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
	names, err := migrate.FindMigrations(migrations.FS)
	if err != nil {
		return MigrationStatus{}, err
	}
	st := MigrationStatus{Schema: schema, Current: current, Latest: int32(len(names))}
	for i, path := range names {
		v := int32(i + 1)
		name, _ := fs.Stat(migrations.FS, path)
		st.Migrations = append(st.Migrations, Migration{Version: v, Name: name.Name(), Applied: v <= current})
	}
	return st, nil
}

// currentVersion reads the schema's version; 0 when it was never migrated.
func currentVersion(ctx context.Context, pool *pgxpool.Pool, schema string) (int32, error) {
	var v int32
	err := pool.QueryRow(ctx, "select version from "+schema+"."+versionTable).Scan(&v)
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
// read and write secrets, data keys and provider defaults, append audit
// events, register root keys and keep audit keys. It may read audit_head
// but not lock or move it (only the owner's functions do), has no right to
// update or delete audit events, and, not owning the tables, cannot disable
// their triggers. Run it as the owner after Migrate; it is idempotent.
func GrantRuntime(ctx context.Context, pool *pgxpool.Pool, schema, role string) error {
	if err := ValidateSchema(schema); err != nil {
		return err
	}
	if role == "" {
		return errors.New("grant: a role name is required")
	}
	r := pgx.Identifier{role}.Sanitize()
	t := func(names ...string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = schema + "." + n
		}
		return strings.Join(q, ", ")
	}
	stmts := []string{
		"grant usage on schema " + schema + " to " + r,
		"grant select on " + t(versionTable, "deployment", "audit_head") + " to " + r,
		"grant select, insert, update, delete on " + t("secrets", "encryption_keys", "provider_defaults") + " to " + r,
		"grant select, insert on " + t("audit_events", "root_keys") + " to " + r,
		"grant select, insert, update on " + t("audit_keys") + " to " + r,
		"grant execute on function " + schema + ".audit_lock_head(text), " + schema + ".ciphertext_header(text) to " + r,
	}
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
