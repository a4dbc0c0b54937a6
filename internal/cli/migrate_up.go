package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// MigrateUpOptions configure `pgsecrets migrate up`.
type MigrateUpOptions struct {
	*globalOptions
	// GrantTo is the runtime role to grant what it needs.
	GrantTo string
	// GrantPlanner is the planner role to grant metadata reads.
	GrantPlanner string
	// GrantDashboard is the role `pgsecrets serve` runs as.
	GrantDashboard string
}

func newMigrateUpCmd(g *globalOptions) *cobra.Command {
	opts := &MigrateUpOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Long: `Apply every migration this binary carries that the schema lacks, each in
its own transaction, then print the schema's version. The schema is created
when missing. Running it again applies nothing. Concurrent runs wait for
each other. Run it as the role that owns the schema.

When root keys are configured, the first run also registers them in the
database (kid and key check value, never the material): from then on a
process with a key file the database does not know is refused before it
writes anything. Without root keys, the first process that opens the store
registers its keys.

--grant-to ROLE grants a separate runtime role what Terraform, the CLI and
applications need (read and write secrets, append audit events) and nothing
more: not being the owner, it cannot disable the append-only triggers,
change or delete audit events, or move the chain head.

--grant-planner ROLE grants a planner role, for ` + "`terraform plan`" + ` on pull
requests with no root keys, SELECT on metadata only: names, revisions,
kids, who and when; never a ciphertext, wrapped key or audit event.

--grant-dashboard ROLE grants the role ` + "`pgsecrets serve`" + ` runs as the runtime
role's rights and the dashboard's own state: sign-in, sessions, disabling
and enabling accounts. The runtime role has no right on those tables, so
the credentials applications hold cannot sign anyone in, take over or
extend a session, or read a password hash. Give the dashboard a role of its
own. See docs/security.md (who holds which role) and docs/ci.md.`,
		Example: `  pgsecrets migrate up --database-url postgres://owner@db.internal/app

  # Owner migrates, and lets the runtime role in
  pgsecrets migrate up --database-url postgres://owner@db.internal/app --grant-to pgsecrets_app

  # ... and a role that plans with no root keys
  pgsecrets migrate up --database-url postgres://owner@db.internal/app --grant-planner pgsecrets_plan

  # ... and the role the dashboard (pgsecrets serve) runs as
  pgsecrets migrate up --database-url postgres://owner@db.internal/app --grant-dashboard pgsecrets_dashboard

  PGSECRETS_SCHEMA=secrets_staging pgsecrets migrate up`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrateUp(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.GrantTo, "grant-to", "", "runtime role to grant what it needs (it must exist)")
	cmd.Flags().StringVar(&opts.GrantPlanner, "grant-planner", "", "planner role to grant SELECT on metadata only (it must exist)")
	cmd.Flags().StringVar(&opts.GrantDashboard, "grant-dashboard", "", "role `pgsecrets serve` runs as, to grant the runtime's rights and the dashboard's sessions (it must exist)")
	return cmd
}

type migrationJSON struct {
	Version int32  `json:"version"`
	Name    string `json:"name"`
}

func runMigrateUp(ctx context.Context, opts *MigrateUpOptions) error {
	pool, cfg, err := opts.Connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()

	out := opts.IO.Out
	var applied []migrationJSON
	// Migrate reports a migration as it starts; one is applied once the
	// next starts, or once Migrate returns without error.
	printApplied := func() {
		if len(applied) > 0 && !opts.JSON() {
			m := applied[len(applied)-1]
			fmt.Fprintf(out, "Applied migration %d (%s)\n", m.Version, m.Name)
		}
	}
	st, err := store.Migrate(ctx, pool, cfg.Schema, func(version int32, name string) {
		printApplied()
		applied = append(applied, migrationJSON{Version: version, Name: name})
	})
	if err != nil {
		return err
	}
	printApplied()
	for _, g := range []struct {
		role, what string
		grant      func(context.Context, *pgxpool.Pool, string, string) error
	}{
		{opts.GrantTo, "what the runtime needs", store.GrantRuntime},
		{opts.GrantPlanner, "metadata reads for plans", store.GrantPlanner},
		{opts.GrantDashboard, "what the dashboard needs", store.GrantDashboard},
	} {
		if g.role == "" {
			continue
		}
		if err := g.grant(ctx, pool, cfg.Schema, g.role); err != nil {
			return err
		}
		if !opts.JSON() {
			fmt.Fprintf(out, "Granted role %q %s in schema %s.\n", g.role, g.what, cfg.Schema)
		}
	}
	registered, err := registerRootKeysAfterMigrate(ctx, opts)
	if err != nil {
		return err
	}
	if len(registered) > 0 && !opts.JSON() {
		fmt.Fprintf(out, "Registered root key(s) %s.\n", strings.Join(registered, ", "))
	}

	if opts.JSON() {
		if applied == nil {
			applied = []migrationJSON{}
		}
		return writeJSON(out, struct {
			Schema     string          `json:"schema"`
			Applied    []migrationJSON `json:"applied"`
			Version    int32           `json:"version"`
			Registered []string        `json:"registered_root_keys"`
		}{st.Schema, applied, st.Current, append([]string{}, registered...)})
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "Schema %s is already at version %d; nothing to apply.\n", st.Schema, st.Current)
		return nil
	}
	fmt.Fprintf(out, "Schema %s is now at version %d.\n", st.Schema, st.Current)
	return nil
}

// registerRootKeysAfterMigrate registers the configured root keys, and
// stores the audit keys of events written before audit keys were stored,
// when root keys are configured; without them it does nothing.
func registerRootKeysAfterMigrate(ctx context.Context, opts *MigrateUpOptions) ([]string, error) {
	if !opts.rootKeysConfigured() {
		return nil, nil
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := st.StoreLegacyAuditKeys(ctx); err != nil {
		return nil, err
	}
	return st.RegisteredAtOpen(), nil
}
