package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// maxDotenvSize bounds the .env file read, as store.MaxValueBytes bounds
// one value.
const maxDotenvSize = 16 << 20

// ImportEnvOptions configure `pgsecrets import-env`.
type ImportEnvOptions struct {
	*globalOptions
	Project    string
	File       string
	DryRun     bool
	Overwrite  bool
	NoValidate bool
}

func newImportEnvCmd(g *globalOptions) *cobra.Command {
	opts := &ImportEnvOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "import-env",
		Short: "Move the variables of a .env file into the encrypted store",
		Long: `Read a .env file and store each variable as a secret of --project.

The file syntax: NAME=value lines, optional "export " prefixes, full-line
and trailing (" #") comments, 'single quotes' (literal), "double quotes"
(\n \t \r \" \\ \$ \` + "`" + ` escapes, a backslash at a line's end joins the lines),
quoted strings one after the other ('it'"'"'s'), quotes spanning several
lines, blank lines. A line that cannot be parsed, a name defined twice, or
a value larger than 1 MiB stops the import before anything is written,
with the line numbers.

Each variable is then:
  imported  stored as a new secret (category and restart notice from the
            catalog of well-known secrets), one audit event each;
  skipped   the project already has a secret of that name: it is kept,
            unless --overwrite replaces it;
  invalid   an empty value, a name the store refuses, or a well-known
            secret whose value has the wrong shape (--no-validate skips
            that check); it is not stored.
Values are never printed. With --dry-run nothing is written. A name that
changes how programs start (LD_PRELOAD, BASH_ENV, PATH...) is stored with
a warning: ` + "`pgsecrets run`" + ` refuses to pass it unless given
--allow-startup-var NAME.

Once the values are in the store, delete the plaintext file.

Exit status: 0 when every variable was imported or skipped, 1 when any was
invalid (the valid ones are stored: fix the file and run again, stored
names are then skipped), 2 when the command line is wrong.`,
		Example: `  # See what would happen, then import, then remove the plaintext file
  pgsecrets import-env --project billing --file .env --dry-run
  pgsecrets import-env --project billing --file .env
  shred -u .env

  # Replace secrets that already exist with the file's values
  pgsecrets import-env --project billing --file .env.production --overwrite`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "project", "file"); err != nil {
				return err
			}
			if err := store.ValidateProject(opts.Project); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			return runImportEnv(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Project, "project", "", "project to store the secrets in (required)")
	cmd.Flags().StringVar(&opts.File, "file", "", "the .env file to import, \"-\" for stdin (required)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "report what would be imported, skipped and invalid, and write nothing")
	cmd.Flags().BoolVar(&opts.Overwrite, "overwrite", false, "replace secrets that already exist instead of skipping them")
	cmd.Flags().BoolVar(&opts.NoValidate, "no-validate", false, "store well-known secrets even if their values do not have the expected shape")
	return cmd
}

// importOutcome is what happened to one variable; never its value.
type importOutcome struct {
	Name   string `json:"name"`
	Line   int    `json:"line"`
	Action string `json:"action"` // imported, replaced, skipped, invalid
	Reason string `json:"reason,omitempty"`
}

func runImportEnv(ctx context.Context, opts *ImportEnvOptions) error {
	content, err := readDotenv(opts)
	if err != nil {
		return err
	}
	entries, err := dotenv.Parse(string(content))
	if err != nil {
		return fmt.Errorf("parse %s: %w; nothing was imported", opts.File, err)
	}
	if err := refuseOversizedValues(opts, entries); err != nil {
		return err
	}

	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	metas, err := st.ListSecrets(ctx, opts.Project)
	if err != nil {
		return err
	}
	existing := make(map[string]store.SecretMeta, len(metas))
	for _, m := range metas {
		existing[m.Name] = m
	}

	outcomes := make([]importOutcome, 0, len(entries))
	for _, e := range entries {
		o := importEntry(ctx, st, opts, e, existing)
		if o.Action == "error" {
			return fmt.Errorf("import %s (line %d): %s; the variables before it were imported", e.Name, e.Line, o.Reason)
		}
		outcomes = append(outcomes, o)
	}
	return reportImport(opts, outcomes)
}

// refuseOversizedValues stops the import before anything is written when
// a value is larger than the store takes, as a line that cannot be parsed
// does: a value that size is not a setting but a mistake of the file (a
// quote closed far below where it opened, a file pasted in), and storing
// the variables around it would import the file half-read.
func refuseOversizedValues(opts *ImportEnvOptions, entries []dotenv.Entry) error {
	var problems []string
	for _, e := range entries {
		var invalid *store.ValueError
		if err := store.ValidateValue(opts.Project, e.Name, e.Value); errors.As(err, &invalid) && !invalid.Empty {
			problems = append(problems, fmt.Sprintf("line %d: %v", e.Line, err))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s; nothing was imported", opts.File, strings.Join(problems, "; "))
}

func readDotenv(opts *ImportEnvOptions) ([]byte, error) {
	var r io.Reader = opts.IO.In
	if opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, fmt.Errorf("read the .env file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxDotenvSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", opts.File, err)
	}
	if len(b) > maxDotenvSize {
		return nil, fmt.Errorf("%s is larger than 16 MiB, which is not a .env file; nothing was imported", opts.File)
	}
	return b, nil
}

// importEntry checks and stores one variable. An unexpected store error
// comes back as Action "error", which stops the import.
func importEntry(ctx context.Context, st *store.Store, opts *ImportEnvOptions, e dotenv.Entry, existing map[string]store.SecretMeta) importOutcome {
	o := importOutcome{Name: e.Name, Line: e.Line}
	invalid := func(reason string) importOutcome {
		o.Action, o.Reason = "invalid", reason
		return o
	}
	if err := store.ValidateSecretName(e.Name); err != nil {
		return invalid(err.Error())
	}
	// Before the skip: an empty value is reported whether the name exists
	// or not.
	if err := store.ValidateValue(opts.Project, e.Name, e.Value); err != nil {
		return invalid(err.Error())
	}
	in := store.PutSecretInput{
		Project: opts.Project, Name: e.Name, Value: []byte(e.Value),
		Description:      "imported from " + filepath.Base(opts.File),
		Validate:         !opts.NoValidate,
		ExpectedRevision: store.MustNotExist,
	}
	o.Action = "imported"
	if cur, ok := existing[e.Name]; ok {
		if !opts.Overwrite {
			o.Action, o.Reason = "skipped", fmt.Sprintf("already exists (revision %d); --overwrite replaces it", cur.Revision)
			return o
		}
		// Replacing the value keeps what people set about the secret.
		in.Description, in.Category, in.RequiresRestart = cur.Description, cur.Category, &cur.RequiresRestart
		in.ExpectedRevision = cur.Revision
		o.Action = "replaced"
	}
	// The write policy (catalog defaults and shape) decides before the dry
	// run stops, so a dry run reports what a real run would refuse.
	if err := in.ApplyPolicy(); err != nil {
		return invalid(err.Error())
	}
	if opts.DryRun {
		return o
	}
	_, err := st.PutSecret(ctx, in)
	var conflict *store.ConflictError
	switch {
	case err == nil:
		return o
	case errors.As(err, &conflict), errors.Is(err, store.ErrNotFound):
		o.Action, o.Reason = "skipped", "changed by someone else during the import; run again to retry"
		return o
	default:
		o.Action, o.Reason = "error", oneLine(err)
		return o
	}
}

func reportImport(opts *ImportEnvOptions, outcomes []importOutcome) error {
	counts := map[string]int{}
	for _, o := range outcomes {
		counts[o.Action]++
	}
	if opts.JSON() {
		err := writeJSON(opts.IO.Out, struct {
			DryRun   bool            `json:"dry_run"`
			Project  string          `json:"project"`
			File     string          `json:"file"`
			Imported int             `json:"imported"`
			Replaced int             `json:"replaced"`
			Skipped  int             `json:"skipped"`
			Invalid  int             `json:"invalid"`
			Secrets  []importOutcome `json:"secrets"`
		}{opts.DryRun, opts.Project, opts.File, counts["imported"], counts["replaced"], counts["skipped"], counts["invalid"], outcomes})
		if err != nil {
			return err
		}
	} else {
		verbs := map[string]string{"imported": "imported", "replaced": "replaced", "skipped": "skipped", "invalid": "invalid"}
		if opts.DryRun {
			verbs["imported"], verbs["replaced"] = "would import", "would replace"
		}
		t := newTable(opts.IO.Out, "LINE", "NAME", "RESULT", "REASON")
		for _, o := range outcomes {
			t.row(fmt.Sprint(o.Line), o.Name, verbs[o.Action], orDash(o.Reason))
		}
		if err := t.flush(); err != nil {
			return err
		}
		prefix := ""
		if opts.DryRun {
			prefix = "Dry run, nothing written: "
		}
		fmt.Fprintf(opts.IO.Out, "%s%d imported, %d replaced, %d skipped, %d invalid, from %s into project %s.\n",
			prefix, counts["imported"], counts["replaced"], counts["skipped"], counts["invalid"], opts.File, opts.Project)
	}
	for _, o := range outcomes {
		if o.Action == "imported" || o.Action == "replaced" {
			warnStartupName(opts.IO.ErrOut, o.Name)
		}
	}
	if counts["invalid"] > 0 {
		return fmt.Errorf("%d variable(s) of %s are invalid and were not stored (see the list above); fix them and run again, or pass --no-validate for a shape mismatch", counts["invalid"], opts.File)
	}
	if !opts.DryRun && opts.File != "-" && counts["imported"]+counts["replaced"] > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "The values are now encrypted in the database. Delete the plaintext file: shred -u %s (or rm %s)\n", opts.File, opts.File)
	}
	return nil
}
