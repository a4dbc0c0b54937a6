package cli

import (
	"github.com/spf13/cobra"
)

func newMigrateCmd(g *globalOptions) *cobra.Command {
	cmd := newGroupCmd("migrate", "Create or upgrade the pgsecrets schema",
		`  pgsecrets migrate status
  pgsecrets migrate up`,
		newMigrateUpCmd(g),
		newMigrateStatusCmd(g),
	)
	cmd.Long = `Create or upgrade the tables pgsecrets keeps in its schema. The migrations
are embedded in the binary; the provider and the other commands refuse a
schema that is not at this binary's version.`
	return cmd
}
