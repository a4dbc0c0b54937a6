package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
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

// needsYesError refuses a change that needs a confirmation (--yes) it was
// not given. Whatever the command, it exits 2, as an incomplete command
// line does: the same command with --yes would run.
type needsYesError struct{ msg string }

func (e *needsYesError) Error() string { return e.msg }

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
// names, or the same subcommand of a sibling (key status: key status).
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set lazily
	}
	if s := slices.Compact(cmd.SuggestionsFor(args[0])); len(s) > 0 {
		for i := range s {
			s[i] = strconv.Quote(s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	} else if alts := nearbySubcommands(cmd, args[0]); len(alts) > 0 {
		msg += "; did you mean `" + strings.Join(alts, "` or `") + "`?"
	}
	return &usageError{cmd: cmd, err: errors.New(msg)}
}

// nearbySubcommands finds name one level down from where it was typed:
// among the subcommands of cmd's siblings (key status: key status), the
// siblings named like cmd first, or, for the root, of its commands
// (pgsecrets add: pgsecrets secret add).
func nearbySubcommands(cmd *cobra.Command, name string) []string {
	groups := cmd.Commands()
	if cmd.HasParent() {
		groups = cmd.Parent().Commands()
	}
	var found, named []string
	for _, group := range groups {
		if group == cmd || group.Hidden {
			continue
		}
		for _, sub := range group.Commands() {
			if sub.Name() == name && sub.IsAvailableCommand() {
				found = append(found, sub.CommandPath())
				if cmd.HasParent() && editDistance(group.Name(), cmd.Name()) <= 2 {
					named = append(named, sub.CommandPath())
				}
			}
		}
	}
	if len(named) > 0 {
		return named
	}
	return found
}

// explainFlagError adds what to do to pflag's "unknown flag" error: the
// right way to give a secret value to a command that reads one, or a flag
// of the command spelled nearly the same. pflag never quotes the value
// given with the flag, and neither does this.
func explainFlagError(cmd *cobra.Command, err error) error {
	// pgsecrets add --project x: the flags are refused by the group the
	// command was looked for in, since "add" names none of its commands;
	// that is the mistake to report.
	if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
		var unknown *usageError
		if errors.As(groupArgs(cmd, args[:1]), &unknown) {
			return unknown.err
		}
	}
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	if valueFlags[name] && cmd.Flags().Lookup("value-file") != nil {
		return fmt.Errorf("%w; a secret value never goes on the command line, where other users of the machine can read it; pipe it to stdin, type it at the prompt, or pass --file FILE", err)
	}
	best, bestDistance := "", 3 // at most 2 edits away
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if d := editDistance(name, f.Name); d < bestDistance && !f.Hidden {
			best, bestDistance = f.Name, d
		}
	})
	if best != "" {
		return fmt.Errorf("%w; did you mean --%s?", err, best)
	}
	return err
}

// valueFlags are what people try first to pass a secret value.
var valueFlags = map[string]bool{"value": true, "secret": true, "password": true}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

// oldSpelling keeps a renamed command group working under the name it had
// before, so that scripts do not break: hidden from help and completion,
// with the same subcommands, and a one-line notice on stderr naming the
// spelling to use.
func oldSpelling(g *globalOptions, old string, build func(*globalOptions) *cobra.Command) *cobra.Command {
	cmd := build(g)
	current := cmd.Name()
	cmd.Use = strings.Replace(cmd.Use, current, old, 1)
	cmd.Hidden = true
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		fmt.Fprintf(g.IO.ErrOut, "Notice: `pgsecrets %s` is now `pgsecrets %s`; the old spelling still works for now\n", old, current)
		return g.validate(c)
	}
	return cmd
}

// oldFlagAnnotation marks a flag kept under its old spelling; its value
// is the current spelling.
const oldFlagAnnotation = "pgsecrets-now-spelled"

// oldFlagSpelling keeps the flag current working under the name it had
// before: hidden from help, sharing current's value, and noticed on stderr
// when used (see noticeOldFlags).
func oldFlagSpelling(cmd *cobra.Command, old, current string) {
	f := cmd.Flags().Lookup(current)
	cmd.Flags().AddFlag(&pflag.Flag{
		Name: old, Usage: "the old spelling of --" + current, Value: f.Value, DefValue: f.DefValue,
		Hidden: true, Annotations: map[string][]string{oldFlagAnnotation: {current}},
	})
}

// noticeOldFlags says, once per flag given under its old spelling, which
// spelling to use.
func noticeOldFlags(cmd *cobra.Command, w io.Writer) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if now := f.Annotations[oldFlagAnnotation]; len(now) == 1 {
			fmt.Fprintf(w, "Notice: --%s is now --%s; the old spelling still works for now\n", f.Name, now[0])
		}
	})
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

// outputFlag is --output on the commands that once took it as a file name
// (render, audit export), where it shadows the global flag: text or json
// is the output format, as in every command, and any other value that is
// clearly a file name is still taken as the deprecated spelling of --out,
// with a notice. The command calls resolve before it runs.
type outputFlag struct {
	g     *globalOptions
	value string
}

// addOutputFlag defines --output on cmd; usage says what json means there.
func addOutputFlag(cmd *cobra.Command, g *globalOptions, usage string) *outputFlag {
	o := &outputFlag{g: g, value: outputText}
	cmd.Flags().Var(o, "output", usage+"; a file name here is the deprecated spelling of --out")
	return o
}

func (o *outputFlag) String() string { return o.value }
func (o *outputFlag) Type() string   { return "string" }

func (o *outputFlag) Set(v string) error {
	o.value = v
	if v == outputText || v == outputJSON {
		o.g.Output = v
	}
	return nil
}

// resolve checks the value given: a format is already in place; a file
// name moves to *file, the --out flag's variable, with a deprecation
// notice; anything else is a usage error.
func (o *outputFlag) resolve(cmd *cobra.Command, file *string) error {
	v := o.value
	if !cmd.Flags().Changed("output") || v == outputText || v == outputJSON {
		return nil
	}
	if !looksLikeFileName(v) {
		return usageErrorf(cmd, "--output %q is not supported: use text or json (to write to a file, use --out FILE)", v)
	}
	if *file != "" {
		return usageErrorf(cmd, "--out and --output both name a file: --output FILE is the old spelling of --out; keep --out only")
	}
	*file = v
	o.g.warn(settings.Warning{
		Summary: "Deprecated flag",
		Detail:  fmt.Sprintf("--output FILE is deprecated for `%s`: use --out %s (--output is the output format, text or json, in every command)", cmd.CommandPath(), v),
	})
	return nil
}

// looksLikeFileName reports whether an --output value can only be a file:
// it has an extension or a directory. A bare word such as "yaml" is more
// likely a mistyped format, which is refused instead of written to.
func looksLikeFileName(v string) bool {
	return strings.ContainsAny(v, "./"+string(filepath.Separator))
}
