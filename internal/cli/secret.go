package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func newSecretCmd(g *globalOptions) *cobra.Command {
	cmd := newGroupCmd("secret", "Add, read, list, roll back and delete secrets",
		`  printf %s "$TOKEN" | pgsecrets secret add --project billing --name STRIPE_KEY
  pgsecrets secret get --project billing --name STRIPE_KEY
  pgsecrets secret list --project billing
  pgsecrets secret history --project billing --name STRIPE_KEY
  pgsecrets secret rollback --project billing --name STRIPE_KEY --to-revision 1 --yes
  pgsecrets secret delete --project billing --name STRIPE_KEY --yes`,
		newSecretAddCmd(g),
		newSecretGetCmd(g),
		newSecretListCmd(g),
		newSecretHistoryCmd(g),
		newSecretRollbackCmd(g),
		newSecretDeleteCmd(g),
		newSecretUndeleteCmd(g),
		newSecretDestroyCmd(g),
	)
	cmd.Long = `Add, read, list and delete secrets. A secret is identified by a project and
a name. Values never go on the command line: they are read from stdin, a
terminal prompt, or a file.

Every write keeps the value it replaces: ` + "`secret history`" + ` lists the
revisions, ` + "`secret get --revision`" + ` reads one, ` + "`secret rollback`" + ` makes an
old value current again. A delete can be undone with ` + "`secret undelete`" + `
within the retention window; ` + "`secret destroy`" + ` removes a secret and its
history for good. See ` + "`pgsecrets history`" + ` for retention.`
	return cmd
}

// secretFlags are the --project and --name every single-secret command takes.
type secretFlags struct {
	Project string
	Name    string
}

func (s *secretFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.Project, "project", "", "project the secret belongs to (required)")
	cmd.Flags().StringVar(&s.Name, "name", "", "secret name within the project (required)")
}

// validate checks the flags before anything is read or connected, with the
// store's own name rules.
func (s *secretFlags) validate(cmd *cobra.Command) error {
	if err := requireFlags(cmd, "project", "name"); err != nil {
		return err
	}
	if err := store.ValidateProject(s.Project); err != nil {
		return &usageError{cmd: cmd, err: err}
	}
	if err := store.ValidateSecretName(s.Name); err != nil {
		return &usageError{cmd: cmd, err: err}
	}
	return nil
}

// requireProject checks a required --project before anything is read or
// connected, with the store's own rule.
func requireProject(cmd *cobra.Command, project string) error {
	if err := requireFlags(cmd, "project"); err != nil {
		return err
	}
	return checkProject(cmd, project)
}

// checkProject checks an optional --project; empty means every project.
func checkProject(cmd *cobra.Command, project string) error {
	if project == "" {
		return nil
	}
	if err := store.ValidateProject(project); err != nil {
		return &usageError{cmd: cmd, err: err}
	}
	return nil
}

func (s *secretFlags) id() string { return s.Project + "/" + s.Name }

// withListHint adds, to a secret that is not found, the command that shows
// what exists.
func withListHint(err error, project string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w; `pgsecrets secret list --project %s` shows the project's secrets", err, project)
	}
	return err
}
