package cli

import (
	"context"
	"fmt"
	"strings"

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
kids, who and when; never a ciphertext, wrapped key or audit event. See
docs/security.md and docs/ci.md.`,
		Example: `  pgsecrets migrate up --database-url postgres://owner@db.internal/app

  # Owner migrates, and lets the runtime role in
  pgsecrets migrate up --database-url postgres://owner@db.internal/app --grant-to pgsecrets_app

  # ... and a role that plans with no root keys
  pgsecrets migrate up --database-url postgres://owner@db.internal/app --grant-planner pgsecrets_plan

  PGSECRETS_SCHEMA=secrets_staging pgsecrets migrate up`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrateUp(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.GrantTo, "grant-to", "", "runtime role to grant what it needs (it must exist)")
	cmd.Flags().StringVar(&opts.GrantPlanner, "grant-planner", "", "planner role to grant SELECT on metadata only (it must exist)")
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
	if opts.GrantTo != "" {
		if err := store.GrantRuntime(ctx, pool, cfg.Schema, opts.GrantTo); err != nil {
			return err
		}
		if !opts.JSON() {
			fmt.Fprintf(out, "Granted role %q what the runtime needs in schema %s.\n", opts.GrantTo, cfg.Schema)
		}
	}
	if opts.GrantPlanner != "" {
		if err := store.GrantPlanner(ctx, pool, cfg.Schema, opts.GrantPlanner); err != nil {
			return err
		}
		if !opts.JSON() {
			fmt.Fprintf(out, "Granted role %q metadata reads for plans in schema %s.\n", opts.GrantPlanner, cfg.Schema)
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
