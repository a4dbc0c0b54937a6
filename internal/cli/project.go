package cli

import (
	"github.com/spf13/cobra"
)

func newProjectCmd(g *globalOptions) *cobra.Command {
	cmd := newGroupCmd("project", "Act on a whole project: shred it",
		`  pgsecrets project shred --project acme`,
		newProjectShredCmd(g),
	)
	cmd.Long = `Act on a whole project at once. A project is created by its first secret and
has a data key of its own, which encrypts its secrets and their history
(see ` + "`pgsecrets key status`" + `).`
	return cmd
}
