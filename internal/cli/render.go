package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// maxConfigSize bounds the configuration read by render.
const maxConfigSize = 64 << 20

// RenderOptions configure `pgsecrets render`.
type RenderOptions struct {
	*globalOptions
	Project     string
	Config      string
	EnvFallback bool
	EnvAllow    []string
	File        string
}

func newRenderCmd(g *globalOptions) *cobra.Command {
	opts := &RenderOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write a JSON config with its secret references resolved",
		Long: `Read a JSON configuration and replace every
  {"$secretRef": {"name": "NAME", "default": "optional"}}
by the value of the project's secret NAME, exactly as the Terraform data
source pgsecrets_resolved_config does: from the database (all names in one
query, audited as one read), then, with --env-fallback, an environment
variable of the same name, then the reference's "default".

The environment never supplies pgsecrets' own settings (PGSECRETS_*),
DATABASE_URL, PostgreSQL's PG* variables or Terraform's TF_*: they hold the
root keys and database passwords, which a config naming them would copy
into its output. Such a name comes only from the database or a "default".
--env-allow narrows the fallback further to the names and prefixes listed
(APP_* is every name starting with APP_).

Where each name came from is printed on stderr, never a value. A missing
secret is an error listing every missing name with its JSON path, and
nothing is written.

The result goes to stdout, or with --output FILE to FILE, created with mode
0600 under a temporary name and renamed into place once complete, so an
application never reads a half-written file.`,
		Example: `  pgsecrets render --project billing --config config.json --output /run/billing/config.json

  # Local development: let environment variables stand in for missing secrets
  pgsecrets render --project billing --config config.json --env-fallback | my-app --config -

  # Only BILLING_* variables and STRIPE_KEY may stand in
  pgsecrets render --project billing --config config.json --env-fallback --env-allow 'BILLING_*,STRIPE_KEY'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "project", "config"); err != nil {
				return err
			}
			if err := store.ValidateProject(opts.Project); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			if err := validateEnvAllow(opts); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			return runRender(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Project, "project", "", "project whose secrets the references name (required)")
	f.StringVar(&opts.Config, "config", "", "the JSON configuration, \"-\" for stdin (required)")
	f.BoolVar(&opts.EnvFallback, "env-fallback", false, "use an environment variable named like a secret missing from the database")
	f.StringSliceVar(&opts.EnvAllow, "env-allow", nil, "with --env-fallback, only these names may come from the environment; NAME or PREFIX_* (comma-separated or repeated)")
	// Shadows the global --output (text or json) for this command only.
	f.StringVar(&opts.File, "output", "", "write the rendered config to this file (mode 0600) instead of stdout")
	return cmd
}

func runRender(ctx context.Context, opts *RenderOptions) error {
	doc, err := readConfig(opts)
	if err != nil {
		return err
	}
	// Parse before connecting: a malformed config fails without a database.
	parsed, err := secretref.Parse(doc)
	if err != nil {
		return fmt.Errorf("parse %s: %w", opts.Config, err)
	}
	var st *store.Store
	if len(parsed.References()) > 0 {
		if st, err = opts.OpenStore(ctx); err != nil {
			return err
		}
		defer st.Close()
	}
	res, err := parsed.Resolve(ctx, secretref.Options{
		EnvFallback: opts.EnvFallback,
		EnvAllow:    opts.EnvAllow,
		Lookup: func(names []string) (map[string][]byte, error) {
			found, err := st.GetSecrets(ctx, opts.Project, names, "cli render")
			if err != nil {
				return nil, err
			}
			values := make(map[string][]byte, len(found))
			for name, s := range found {
				values[name] = s.Value
			}
			return values, nil
		},
	})
	if err != nil {
		return fmt.Errorf("render %s for project %s: %w", opts.Config, opts.Project, err)
	}

	if opts.File == "" {
		if _, err := opts.IO.Out.Write(append(res.Rendered, '\n')); err != nil {
			return fmt.Errorf("write the rendered config: %w", err)
		}
	} else if err := writeRendered(opts.File, res.Rendered); err != nil {
		return err
	}
	for _, name := range res.References {
		fmt.Fprintf(opts.IO.ErrOut, "%s: %s\n", name, res.Sources[name])
	}
	if opts.File != "" {
		fmt.Fprintf(opts.IO.ErrOut, "Rendered %d reference(s) into %s\n", len(res.References), opts.File)
	}
	return nil
}

// validateEnvAllow refuses an allow-list that would do nothing: without
// --env-fallback the environment is not read at all.
func validateEnvAllow(opts *RenderOptions) error {
	if len(opts.EnvAllow) > 0 && !opts.EnvFallback {
		return errors.New("--env-allow limits the environment fallback; add --env-fallback to turn it on")
	}
	if err := secretref.ValidateEnvAllow(opts.EnvAllow); err != nil {
		return fmt.Errorf("--env-allow: %w", err)
	}
	return nil
}

func readConfig(opts *RenderOptions) ([]byte, error) {
	var r io.Reader = opts.IO.In
	if opts.Config != "-" {
		f, err := os.Open(opts.Config)
		if err != nil {
			return nil, fmt.Errorf("read the config: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", opts.Config, err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("%s is larger than 64 MiB; nothing was rendered", opts.Config)
	}
	return b, nil
}

// writeRendered writes the rendered config through the same temporary file
// and rename as audit export; os.CreateTemp makes the file 0600, which a
// file full of secret values needs.
func writeRendered(dest string, rendered []byte) error {
	file, err := createAtomic(dest)
	if err != nil {
		return err
	}
	defer file.abort()
	if _, err := file.Write(append(rendered, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return file.commit()
}
