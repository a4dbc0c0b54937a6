package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// MigrateUpOptions configure `pgsecrets migrate up`.
type MigrateUpOptions struct {
	*globalOptions
}

func newMigrateUpCmd(g *globalOptions) *cobra.Command {
	opts := &MigrateUpOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Long: `Apply every migration this binary carries that the schema lacks, each in
its own transaction, then print the schema's version. The schema is created
when missing. Running it again applies nothing. Concurrent runs wait for
each other. Needs no root keys.`,
		Example: `  pgsecrets migrate up --database-url postgres://admin@db.internal/app
  PGSECRETS_SCHEMA=secrets_staging pgsecrets migrate up`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrateUp(cmd.Context(), opts)
		},
	}
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

	if opts.JSON() {
		if applied == nil {
			applied = []migrationJSON{}
		}
		return writeJSON(out, struct {
			Schema  string          `json:"schema"`
			Applied []migrationJSON `json:"applied"`
			Version int32           `json:"version"`
		}{st.Schema, applied, st.Current})
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "Schema %s is already at version %d; nothing to apply.\n", st.Schema, st.Current)
		return nil
	}
	fmt.Fprintf(out, "Schema %s is now at version %d.\n", st.Schema, st.Current)
	return nil
}
