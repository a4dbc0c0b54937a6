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
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretsource"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// importOptions are what `import` and `import-env` share: where the
// secrets go and how existing ones are treated.
type importOptions struct {
	*globalOptions
	Project    string
	File       string // "-" for stdin
	DryRun     bool
	Overwrite  bool
	NoValidate bool
}

func (o *importOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Project, "project", "", "project to store the secrets in (required)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "report what would be imported, skipped and invalid (names, categories, catalog problems; never values), and write nothing")
	cmd.Flags().BoolVar(&o.Overwrite, "overwrite", false, "replace secrets that already exist instead of skipping them")
	cmd.Flags().BoolVar(&o.NoValidate, "no-validate", false, "store well-known secrets even if their values do not have the expected shape")
}

// ImportOptions configure `pgsecrets import`.
type ImportOptions struct {
	importOptions
	Format   string
	Nested   string
	Prefix   string
	Upper    bool
	EnvNames bool
	WithPath bool
}

func newImportCmd(g *globalOptions) *cobra.Command {
	opts := &ImportOptions{importOptions: importOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Move the secrets of a sops, Vault, Doppler, Infisical, Kubernetes or .env file into the store",
		Long: `Read a file of secrets, or stdin ("-"), and store each key as a secret of
--project, through the same checks, catalog and audit trail as import-env.

What is read (--format dotenv, json or yaml; by default from the file's
extension, else from its first line):
  dotenv       NAME=value lines, as import-env reads them
  JSON, YAML   a map of names to values: sops -d output, doppler secrets
               download --format json, infisical export --format yaml
  Vault        vault kv get -format=json (values under data.data; KV v1's
               under data), and a vkv export of several paths
  Infisical    infisical export --format json (a list of key and value)
  Kubernetes   a Secret manifest: data (base64) and stringData (plain)
A sops-encrypted file is refused: decrypt it with sops -d and pipe it in.
Doppler's DOPPLER_PROJECT, DOPPLER_CONFIG and DOPPLER_ENVIRONMENT and
Infisical's personal overrides are reported as skipped and not stored.

Numbers and booleans are stored as written. A value that is a map or a
list is refused with its key path, unless --nested json stores it as JSON
text. A syntax error, a key defined twice, a YAML alias, a value larger
than 1 MiB, or a file larger than 16 MiB or holding more than 100,000
values stops the import before anything is written.

Names: a key the store refuses as a name (a '/' or a space in it, a
leading '_') is reported invalid with the name --env-names --upper would
give it; a name that is valid but not an environment variable name (a '.'
or '-' in it) is stored, with a note that pgsecrets run will refuse it.
Renaming, in this order: --with-path, --env-names, --upper, --prefix. Two
keys that end with one name stop the import, naming both.

Each secret is then imported, replaced (--overwrite), skipped or invalid,
as import-env describes; values are never printed.

Exit status: 0 when every secret was imported or skipped, 1 when any was
invalid or the file could not be read, 2 when the command line is wrong.`,
		Example: `  # sops: decrypt to stdout and pipe it in (dotenv files as JSON: sops's
  # dotenv output does not quote values)
  sops -d secrets.yaml | pgsecrets import --project billing --format yaml -
  sops -d --output-type json secrets.env | pgsecrets import --project billing --format json -

  # Vault KV v2: one path, or a whole mount with vkv, path in the names
  vault kv get -format=json secret/billing | pgsecrets import --project billing -
  vkv export -p secret -f json --show-values --max-value-length -1 > dump.json
  pgsecrets import --project billing --with-path --env-names --upper dump.json

  # Doppler and Infisical
  doppler secrets download --no-file --format json | pgsecrets import --project billing --format json -
  infisical export --format json --secret-overriding=false | pgsecrets import --project billing --format json -

  # A Kubernetes Secret manifest, dry run first; keys such as db.password
  # become DB_PASSWORD, and a prefix marks where they came from
  pgsecrets import --project billing --dry-run --env-names --upper --prefix K8S_ secret.yaml

  # A YAML map holding a map: store the inner map as JSON text
  pgsecrets import --project billing --nested json settings.yaml

  # Replace secrets that already exist, and skip the catalog's shape check
  pgsecrets import --project billing --overwrite --no-validate secrets.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf(cmd, "name one file to import, or - for stdin (%d arguments given)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if err := requireProject(cmd, opts.Project); err != nil {
				return err
			}
			format, err := secretsource.ParseFormat(opts.Format)
			if err != nil {
				return &usageError{cmd: cmd, err: fmt.Errorf("--format: %w", err)}
			}
			var nested secretsource.Nested
			switch opts.Nested {
			case "", "refuse":
			case "json":
				nested = secretsource.NestedAsJSON
			default:
				return usageErrorf(cmd, "--nested: unknown value %q: use refuse or json", opts.Nested)
			}
			parse := func(content []byte) (*secretsource.Result, error) {
				return secretsource.Parse(content, secretsource.Options{Format: format, Name: opts.File, Nested: nested})
			}
			rules := secretsource.Rules{WithPath: opts.WithPath, EnvNames: opts.EnvNames, Upper: opts.Upper, Prefix: opts.Prefix}
			return runImport(cmd.Context(), &opts.importOptions, parse, rules)
		},
	}
	opts.addFlags(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "", "the file's syntax: dotenv, json or yaml (default: from the extension, else the first line), e.g. --format yaml")
	cmd.Flags().StringVar(&opts.Nested, "nested", "refuse", "a value that is a map or a list: refuse (stop, naming its key path) or json (store its JSON text), e.g. --nested json")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "put this before every name, e.g. --prefix BILLING_ makes API_KEY BILLING_API_KEY")
	cmd.Flags().BoolVar(&opts.Upper, "upper", false, "upper-case every name, e.g. api_key becomes API_KEY")
	cmd.Flags().BoolVar(&opts.EnvNames, "env-names", false, "replace each character an environment variable name cannot hold with '_', e.g. db.password becomes db_password")
	cmd.Flags().BoolVar(&opts.WithPath, "with-path", false, "in a dump of several Vault paths, put the path before the key, e.g. app/db and password make app_db_password")
	return cmd
}

// importOutcome is what happened to one key; never its value.
type importOutcome struct {
	Name     string `json:"name"`
	Key      string `json:"key,omitempty"` // the file's key, when renamed
	Source   string `json:"source"`
	Line     int    `json:"line,omitempty"`
	Action   string `json:"action"` // imported, replaced, skipped, invalid
	Category string `json:"category,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// runImport is the one write path of import and import-env: read the
// file whole, parse and name every entry, refuse the file if any of that
// fails, then put each secret through the write policy.
func runImport(ctx context.Context, opts *importOptions, parse func([]byte) (*secretsource.Result, error), rules secretsource.Rules) error {
	content, err := readImportFile(opts)
	if err != nil {
		return err
	}
	res, err := parse(content)
	if err != nil {
		return fmt.Errorf("parse %s: %w; nothing was imported", opts.File, err)
	}
	named, err := secretsource.Rename(res.Entries, rules)
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was imported", opts.File, err)
	}
	if err := refuseOversizedValues(opts, named); err != nil {
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

	description := "imported from " + fileLabel(opts.File)
	if !res.Generic {
		description += " (" + res.Shape + ")"
	}
	outcomes := make([]importOutcome, 0, len(named)+len(res.Dropped))
	for _, e := range named {
		o := importEntry(ctx, st, opts, e, rules, description, existing)
		if o.Action == "error" {
			return fmt.Errorf("import %s (%s): %s; the secrets before it were imported", e.Name, e.Source, o.Reason)
		}
		outcomes = append(outcomes, o)
	}
	for _, d := range res.Dropped {
		outcomes = append(outcomes, importOutcome{Name: d.Key, Source: d.Source, Action: "skipped", Reason: d.Reason})
	}
	return reportImport(opts, outcomes)
}

func fileLabel(file string) string {
	if file == "-" {
		return "stdin"
	}
	return filepath.Base(file)
}

// refuseOversizedValues stops the import before anything is written when
// a value is larger than the store takes, as a line that cannot be parsed
// does: a value that size is not a setting but a mistake of the file (a
// quote closed far below where it opened, a file pasted in), and storing
// the secrets around it would import the file half-read.
func refuseOversizedValues(opts *importOptions, entries []secretsource.Named) error {
	var problems []string
	for _, e := range entries {
		var invalid *store.ValueError
		if err := store.ValidateValue(opts.Project, e.Name, e.Value); errors.As(err, &invalid) && !invalid.Empty {
			problems = append(problems, fmt.Sprintf("%s: %v", e.Source, err))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s; nothing was imported", opts.File, strings.Join(problems, "; "))
}

// readImportFile reads the whole file, and no more than a file of secrets
// can be: an endless pipe or a wrong file stops at the limit.
func readImportFile(opts *importOptions) ([]byte, error) {
	var r io.Reader = opts.IO.In
	if opts.File == "-" && opts.IO.InIsTerminal {
		return nil, errors.New("stdin is a terminal: pipe the secrets in (e.g. sops -d secrets.yaml | pgsecrets import ... -), or name the file")
	}
	if opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, fmt.Errorf("read the file to import: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, secretsource.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", opts.File, err)
	}
	if len(b) > secretsource.MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB, more than a file of secrets holds; nothing was imported", opts.File, secretsource.MaxFileBytes>>20)
	}
	return b, nil
}

// importEntry checks and stores one secret. An unexpected store error
// comes back as Action "error", which stops the import.
func importEntry(ctx context.Context, st *store.Store, opts *importOptions, e secretsource.Named, rules secretsource.Rules, description string, existing map[string]store.SecretMeta) importOutcome {
	o := importOutcome{Name: e.Name, Source: e.Source, Line: e.Line}
	if e.Key != e.Name {
		o.Key = e.Key
	}
	invalid := func(reason string) importOutcome {
		o.Action, o.Reason = "invalid", reason
		return o
	}
	var note string
	if err := store.ValidateSecretName(e.Name); err != nil {
		return invalid(err.Error() + suggestName(rules, e))
	}
	if !dotenv.ValidName(e.Name) {
		note = "not an environment variable name, so pgsecrets run will refuse it" + suggestName(rules, e)
	}
	// Before the skip: an empty value is reported whether the name exists
	// or not.
	if err := store.ValidateValue(opts.Project, e.Name, e.Value); err != nil {
		return invalid(err.Error())
	}
	in := store.PutSecretInput{
		Project: opts.Project, Name: e.Name, Value: []byte(e.Value),
		Description:      description,
		Validate:         !opts.NoValidate,
		ExpectedRevision: store.MustNotExist,
	}
	if e.Description != "" {
		in.Description = e.Description
	}
	o.Action = "imported"
	if cur, ok := existing[e.Name]; ok {
		if !opts.Overwrite {
			o.Action, o.Category, o.Reason = "skipped", cur.Category, fmt.Sprintf("already exists (revision %d); --overwrite replaces it", cur.Revision)
			return o
		}
		// Replacing the value keeps what people set about the secret.
		in.Description, in.Category, in.RequiresRestart = cur.Description, cur.Category, &cur.RequiresRestart
		in.ExpectedRevision = cur.Revision
		o.Action = "replaced"
	}
	// The write policy (catalog defaults and shape) decides before the dry
	// run stops, so a dry run reports what a real run would refuse.
	err := in.ApplyPolicy()
	o.Category = in.Category // shown with a shape problem too: it says which check failed
	if err != nil {
		o.Action, o.Reason = "invalid", err.Error()
		return o
	}
	o.Reason = note
	if opts.DryRun {
		return o
	}
	_, err = st.PutSecret(ctx, in)
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

// suggestName proposes the flags that make a key a valid environment
// variable name, when they would.
func suggestName(rules secretsource.Rules, e secretsource.Named) string {
	suggested := rules.Suggest(e.Entry)
	if suggested == e.Name || !dotenv.ValidName(suggested) || store.ValidateSecretName(suggested) != nil {
		return ""
	}
	return fmt.Sprintf("; --env-names --upper would name it %s", suggested)
}

func reportImport(opts *importOptions, outcomes []importOutcome) error {
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
		t := newTable(opts.IO.Out, "SOURCE", "NAME", "RESULT", "CATEGORY", "REASON")
		for _, o := range outcomes {
			t.row(o.Source, o.Name, verbs[o.Action], orDash(o.Category), orDash(o.Reason))
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
		return fmt.Errorf("%d secret(s) of %s are invalid and were not stored (see the list above); fix them and run again, or pass --no-validate for a shape mismatch", counts["invalid"], opts.File)
	}
	if !opts.DryRun && opts.File != "-" && counts["imported"]+counts["replaced"] > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "The values are now encrypted in the database. Delete the plaintext file: shred -u %s (or rm %s)\n", opts.File, opts.File)
	}
	return nil
}
