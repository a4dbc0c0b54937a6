package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// MigrateStatusOptions configure `pgsecrets migrate status`.
type MigrateStatusOptions struct {
	*globalOptions
}

func newMigrateStatusCmd(g *globalOptions) *cobra.Command {
	opts := &MigrateStatusOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the schema's version and pending migrations",
		Long: `Show the schema's version and, for each migration this binary carries,
whether it is applied or pending. Changes nothing. Needs no root keys.`,
		Example: `  pgsecrets migrate status
  pgsecrets migrate status --output json | jq '.pending'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrateStatus(cmd.Context(), opts)
		},
	}
}

type migrationStatusJSON struct {
	Version int32  `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

func runMigrateStatus(ctx context.Context, opts *MigrateStatusOptions) error {
	pool, cfg, err := opts.Connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := store.Status(ctx, pool, cfg.Schema)
	if err != nil {
		return err
	}
	pending := 0
	for _, m := range st.Migrations {
		if !m.Applied {
			pending++
		}
	}

	out := opts.IO.Out
	if opts.JSON() {
		ms := make([]migrationStatusJSON, len(st.Migrations))
		for i, m := range st.Migrations {
			ms[i] = migrationStatusJSON(m)
		}
		return writeJSON(out, struct {
			Schema     string                `json:"schema"`
			Version    int32                 `json:"version"`
			Latest     int32                 `json:"latest"`
			Pending    int                   `json:"pending"`
			Migrations []migrationStatusJSON `json:"migrations"`
		}{st.Schema, st.Current, st.Latest, pending, ms})
	}

	switch {
	case st.Current > st.Latest:
		fmt.Fprintf(out, "Schema %s is at version %d, newer than this pgsecrets knows (%d); upgrade pgsecrets.\n", st.Schema, st.Current, st.Latest)
	case pending == 0:
		fmt.Fprintf(out, "Schema %s is at version %d, up to date.\n", st.Schema, st.Current)
	default:
		fmt.Fprintf(out, "Schema %s is at version %d of %d: %d pending; run `pgsecrets migrate up`.\n", st.Schema, st.Current, st.Latest, pending)
	}
	t := newTable(out, "VERSION", "MIGRATION", "STATUS")
	for _, m := range st.Migrations {
		status := "pending"
		if m.Applied {
			status = "applied"
		}
		t.row(strconv.Itoa(int(m.Version)), m.Name, status)
	}
	return t.flush()
}
