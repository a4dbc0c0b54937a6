package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/password"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func newAccountCmd(g *globalOptions) *cobra.Command {
	cmd := newGroupCmd("account", "Manage the dashboard's accounts (pgsecrets serve)",
		`  pgsecrets account add --email alice@example.com --role admin
  pgsecrets account add --email bob@example.com --role editor --projects billing,support
  pgsecrets account list
  pgsecrets account reset-password --email bob@example.com
  pgsecrets account disable --email bob@example.com`,
		newAccountAddCmd(g),
		newAccountListCmd(g),
		newAccountDisableCmd(g),
		newAccountEnableCmd(g),
		newAccountResetPasswordCmd(g),
		newAccountRemoveCmd(g),
	)
	cmd.Long = `Manage the accounts that sign in to the dashboard (` + "`pgsecrets serve`" + `).

Roles: viewer (names, metadata, model defaults, the audit trail), editor
(also adds and changes values, never sees one), admin (also reveals and
deletes values, sets model defaults, sees accounts and keys). --projects
limits an account to some projects; without it, an account sees every
project.

Passwords are read from a prompt that does not echo when stdin is a
terminal, else as one line from stdin; never from the command line. At
least 12 characters. They are stored as argon2id hashes, and every change
to an account is recorded in the audit trail (never the password).

With the roles of docs/security.md, run add, reset-password and remove as
the schema's owner; list, disable and enable as the owner or the dashboard
role (` + "`migrate up --grant-dashboard ROLE`" + `). The runtime role that
applications hold may not touch accounts, so that it cannot make itself an
admin.`
	return cmd
}

// accountFlags is the --email every single-account command takes.
type accountFlags struct {
	Email string
}

func (u *accountFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&u.Email, "email", "", "the account's email, its sign-in name (required)")
}

// validate checks and normalises --email before anything is read or
// connected.
func (u *accountFlags) validate(cmd *cobra.Command) error {
	if err := requireFlags(cmd, "email"); err != nil {
		return err
	}
	email, err := store.NormalizeEmail(u.Email)
	if err != nil {
		return &usageError{cmd: cmd, err: err}
	}
	u.Email = email
	return nil
}

// readNewPasswordHash reads a new password and returns its argon2id hash,
// the only form in which it goes further.
func readNewPasswordHash(ctx context.Context, ios *IOStreams, email string) (string, error) {
	pw, err := readNewPassword(ctx, ios, email)
	if err != nil {
		return "", err
	}
	return password.Hash(pw, password.DefaultParams)
}

// readNewPassword reads a new password: at a terminal, twice without echo;
// otherwise one line from stdin, so that `printf %s "$PW" | pgsecrets account
// add ...` works. Errors never quote what was read.
func readNewPassword(ctx context.Context, ios *IOStreams, email string) (string, error) {
	var pw string
	if ios.InIsTerminal {
		first, err := ios.ReadHidden(ctx, fmt.Sprintf("Password for %s: ", email))
		if err != nil {
			return "", err
		}
		if err := password.Check(string(first)); err != nil {
			return "", fmt.Errorf("%w; nothing was changed", err)
		}
		again, err := ios.ReadHidden(ctx, "Same password again: ")
		if err != nil {
			return "", err
		}
		if string(again) != string(first) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		pw = string(first)
	} else {
		line, err := ios.readLine(ctx)
		if err != nil {
			return "", err
		}
		pw = line
	}
	if pw == "" {
		return "", errors.New("no password given: type it at the prompt, or pipe it on stdin; nothing was changed")
	}
	if err := password.Check(pw); err != nil {
		return "", fmt.Errorf("%w; nothing was changed", err)
	}
	return pw, nil
}

// describeProjects says which projects an account may see.
func describeProjects(projects []string) string {
	if len(projects) == 0 {
		return "every project"
	}
	return "projects " + strings.Join(projects, ", ")
}
