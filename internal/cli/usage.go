package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a mistake in how a command was called (unknown flag,
// missing or bad flag value, stray argument): exit code 2, and the message
// points at the command's help.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// noArgs is cobra.NoArgs as a usage error. It does not quote the
// arguments: one may be a secret value typed where it does not belong, and
// errors end up in CI logs.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usageErrorf(cmd, "unexpected argument (%d given): %s takes flags only", len(args), cmd.CommandPath())
}

// groupArgs refuses an unknown subcommand of a command that only groups
// others (cobra would print the group's help and exit 0), suggesting near
// names, or the same subcommand of a sibling (key status: keys status).
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set lazily
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		for i := range s {
			s[i] = strconv.Quote(s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	} else if alt := siblingSubcommand(cmd, args[0]); alt != "" {
		msg += fmt.Sprintf("; did you mean `%s`?", alt)
	}
	return &usageError{cmd: cmd, err: errors.New(msg)}
}

// siblingSubcommand finds name among the subcommands of cmd's siblings.
func siblingSubcommand(cmd *cobra.Command, name string) string {
	if !cmd.HasParent() {
		return ""
	}
	for _, sibling := range cmd.Parent().Commands() {
		if sibling == cmd {
			continue
		}
		for _, sub := range sibling.Commands() {
			if sub.Name() == name && sub.IsAvailableCommand() {
				return sub.CommandPath()
			}
		}
	}
	return ""
}

// newGroupCmd makes a command that only holds subcommands: run alone it
// prints its help.
func newGroupCmd(use, short, example string, subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:     use + " <command>",
		Short:   short,
		Example: example,
		Args:    groupArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subcommands...)
	return cmd
}

// requireFlags fails with a usage error naming every listed flag that has
// no (or an empty) value.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, name := range names {
		if f := cmd.Flags().Lookup(name); f == nil || f.Value.String() == "" {
			missing = append(missing, "--"+name)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return usageErrorf(cmd, "%s is required", missing[0])
	default:
		return usageErrorf(cmd, "%s are required", strings.Join(missing, " and "))
	}
}
