package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/envpolicy"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// SecretAddOptions configure `pgsecrets secret add`.
type SecretAddOptions struct {
	*globalOptions
	secretFlags
	ValueFile   string
	Description string
	Category    string
	// DescriptionSet and CategorySet say whether the flags were given: an
	// update keeps the current description and category otherwise.
	DescriptionSet bool
	CategorySet    bool
	// Yes allows replacing an existing secret.
	Yes bool
	// NoValidate skips the catalog's shape check of well-known names.
	NoValidate bool
	// RequiresRestart, when RequiresRestartSet, overrides the catalog's
	// restart notice (an update otherwise keeps the current one).
	RequiresRestart    bool
	RequiresRestartSet bool
}

func newSecretAddCmd(g *globalOptions) *cobra.Command {
	opts := &SecretAddOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Store a secret, reading its value from stdin or a file",
		Long: `Encrypt a value under the current primary key and store it as project/name.

The value never goes on the command line. It is read:
  - from --file FILE, without one trailing newline (\n or \r\n);
  - else, when stdin is a terminal, from a prompt that does not echo;
  - else from stdin to its end, without one trailing newline, so that
    ` + "`echo \"$TOKEN\" | pgsecrets secret add ...`" + ` stores exactly $TOKEN.
An empty value is refused. Values are limited to 1 MiB.

A name from the catalog of well-known secrets (` + "`pgsecrets catalog`" + `) takes
its category and restart notice by default, and a value of the wrong shape
(say, a Slack user token stored as SLACK_BOT_TOKEN) is refused, without
the value in the message; --no-validate stores it anyway.

A name that changes how programs start (LD_PRELOAD, BASH_ENV, PATH,
NODE_OPTIONS...) is stored with a warning: ` + "`pgsecrets run`" + ` refuses to pass
it unless given --allow-startup-var NAME.

An existing secret is only replaced with --yes. The update is written only
if nobody changed the secret since it was read; the description and
category are kept unless given again. A secret that already holds the
value (and description, category and restart notice) is left as it is:
run again after a lost connection, the command never writes twice.`,
		Example: `  # Pipe the value in (a trailing newline is dropped)
  printf %s "$STRIPE_KEY" | pgsecrets secret add --project billing --name STRIPE_KEY \
    --description "Stripe live key" --category payments

  # Type it at a hidden prompt
  pgsecrets secret add --project billing --name WEBHOOK_SECRET

  # Replace an existing secret with the content of a file
  pgsecrets secret add --project billing --name TLS_KEY --file key.pem --yes`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unexpected argument (%d given): the value is read from stdin or --file, never from the command line", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.secretFlags.validate(cmd); err != nil {
				return err
			}
			opts.DescriptionSet = cmd.Flags().Changed("description")
			opts.CategorySet = cmd.Flags().Changed("category")
			opts.RequiresRestartSet = cmd.Flags().Changed("requires-restart")
			return runSecretAdd(cmd.Context(), opts)
		},
	}
	opts.secretFlags.add(cmd)
	cmd.Flags().StringVar(&opts.ValueFile, "file", "", "read the value from this file (\"-\" for stdin) instead of stdin")
	oldFlagSpelling(cmd, "value-file", "file")
	cmd.Flags().StringVar(&opts.Description, "description", "", "what the secret is for")
	cmd.Flags().StringVar(&opts.Category, "category", "", "free-form category, for listing")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "replace the secret if it already exists")
	cmd.Flags().BoolVar(&opts.NoValidate, "no-validate", false, "store a well-known secret even if its value does not have the expected shape")
	cmd.Flags().BoolVar(&opts.RequiresRestart, "requires-restart", false, "mark the secret as needing an application restart when it changes (default from the catalog)")
	return cmd
}

func runSecretAdd(ctx context.Context, opts *SecretAddOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	// Look before reading the value, so nobody types a value only to be
	// told the secret exists.
	in := store.PutSecretInput{
		Project: opts.Project, Name: opts.Name,
		Description: opts.Description, Category: opts.Category,
		Validate:         !opts.NoValidate,
		ExpectedRevision: store.MustNotExist,
		// The same command run again after a lost connection does not
		// write a second time what its first run wrote.
		SameIsDone: true,
	}
	if opts.RequiresRestartSet {
		in.RequiresRestart = &opts.RequiresRestart
	}
	current, err := st.GetSecretMeta(ctx, opts.Project, opts.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case !opts.Yes:
		return &needsYesError{fmt.Sprintf("secret %s already exists (revision %d); pass --yes to replace it", opts.id(), current.Revision)}
	default:
		// Replacing the value keeps what the flags do not change.
		in.ExpectedRevision = current.Revision
		if !opts.DescriptionSet {
			in.Description = current.Description
		}
		if !opts.CategorySet {
			in.Category = current.Category
		}
		if !opts.RequiresRestartSet {
			in.RequiresRestart = &current.RequiresRestart
		}
	}

	in.Value, err = readSecretValue(ctx, opts)
	if err != nil {
		return err
	}
	meta, err := st.PutSecret(ctx, in)
	var (
		shape   *catalog.ShapeError
		invalid *store.ValueError
	)
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("%w; nothing was written", err)
	case errors.As(err, &shape):
		return fmt.Errorf("%w; nothing was written; check the value, or pass --no-validate to store it anyway", err)
	}
	if err != nil {
		return explainAddConflict(err, opts.id())
	}

	warnStartupName(opts.IO.ErrOut, opts.Name)
	action := "created"
	switch {
	case meta.Unchanged:
		action = "unchanged"
	case in.ExpectedRevision != store.MustNotExist:
		action = "updated"
	}
	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Action string `json:"action"`
			store.SecretMeta
		}{action, meta})
	}
	if meta.Unchanged {
		fmt.Fprintf(opts.IO.Out, "Unchanged secret %s (revision %d, key %s): it already holds this value; nothing was written\n", opts.id(), meta.Revision, meta.KID)
		return nil
	}
	verb := "Created"
	if action == "updated" {
		verb = "Updated"
	}
	fmt.Fprintf(opts.IO.Out, "%s secret %s (revision %d, key %s)\n", verb, opts.id(), meta.Revision, meta.KID)
	return nil
}

// warnStartupName warns, on one line, when a secret was stored under a name
// that changes how programs start (LD_PRELOAD, BASH_ENV...), which `run`
// refuses to pass unless allowed.
func warnStartupName(w io.Writer, name string) {
	if msg := envpolicy.StartupWarning(name); msg != "" {
		fmt.Fprintf(w, "Warning: %s\n", msg)
	}
}

// explainAddConflict turns a lost compare-and-swap into what to do next.
func explainAddConflict(err error, id string) error {
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("secret %s was deleted while it was being replaced; nothing was written; retry to create it", id)
		}
		return err
	}
	switch {
	case conflict.Expected == store.MustNotExist:
		return fmt.Errorf("secret %s was created by someone else meanwhile (revision %d); nothing was written; retry with --yes to replace it", id, conflict.Current)
	default:
		return fmt.Errorf("secret %s was changed by someone else meanwhile (revision %d, expected %d); nothing was written; retry to replace it", id, conflict.Current, conflict.Expected)
	}
}

// readSecretValue reads the value from --file, a hidden terminal
// prompt or stdin; PutSecret then applies the limits every writer shares
// (store.ValidateValue). Errors never quote what was read.
func readSecretValue(ctx context.Context, opts *SecretAddOptions) ([]byte, error) {
	switch {
	case opts.ValueFile != "" && opts.ValueFile != "-":
		f, err := os.Open(opts.ValueFile)
		if err != nil {
			return nil, fmt.Errorf("read the value: %w", err)
		}
		defer f.Close()
		value, err := store.ReadValue(f)
		if err != nil {
			return nil, fmt.Errorf("read the value from --file %s: %w", opts.ValueFile, err)
		}
		return value, nil
	case opts.ValueFile == "" && opts.IO.InIsTerminal:
		return opts.IO.ReadHidden(ctx, fmt.Sprintf("Value for %s: ", opts.id()))
	default:
		value, err := store.ReadValue(opts.IO.In)
		if err != nil {
			return nil, fmt.Errorf("read the value from stdin: %w", err)
		}
		return value, nil
	}
}
