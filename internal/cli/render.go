package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// maxConfigSize bounds the configuration read by render.
const maxConfigSize = 64 << 20

// Formats of `render --format`.
const (
	renderJSON   = "json"
	renderDotenv = "dotenv"
)

// RenderOptions configure `pgsecrets render`.
type RenderOptions struct {
	*globalOptions
	Project     string
	Config      string
	Format      string
	EnvFallback bool
	EnvAllow    []string
	File        string
}

func newRenderCmd(g *globalOptions) *cobra.Command {
	opts := &RenderOptions{globalOptions: g}
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write a JSON config, or a .env file, with its secret references resolved",
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

--format json (the default) writes the config as compact JSON. --format
dotenv writes a .env file instead: the config must then be one JSON object
whose keys are variable names (letters, digits and '_', not starting with a
digit, so that every line is an assignment, never a command) and whose
values are references, strings, numbers or booleans; each becomes a
NAME=value line, in the config's order. A value never runs code or defines
another variable, whether the file is sourced by a shell (bash, dash,
busybox sh), loaded by python-dotenv or read back by ` + "`pgsecrets import-env`" + `:
  - 'value' when it holds no ', \, carriage return or ${...}: literal for
    every reader;
  - else "value" with \\ and \" escapes, when it holds no $, ` + "`" + `, or
    carriage return and does not end with \: exact for every reader;
  - else "value" with a shell's escapes (\$ \` + "`" + ` \" \\) followed by '' (or by
    its trailing backslashes in single quotes): shells and import-env read
    it exactly; python-dotenv skips the line, and render warns on stderr,
    naming the variable, never the value: use --format json for such a
    program.
A value holding a NUL byte is refused. docs/migrating-from-dotenv.md has
the details.

The result goes to stdout, or with --out FILE to FILE, created with mode
0600 under a temporary name and renamed into place once complete, so an
application never reads a half-written file.

--output is the output format, as in every command: --output json is the
same as --format json (and contradicts --format dotenv); --output text, the
default, leaves the format to --format. --output FILE, where FILE has an
extension or a directory (config.json, ./out), is the old spelling of
--out: it still writes FILE, with a deprecation notice on stderr.`,
		Example: `  pgsecrets render --project billing --config config.json --out /run/billing/config.json

  # A .env file for a tool that reads one; env.json maps variable names to
  # references: {"STRIPE_KEY": {"$secretRef": {"name": "STRIPE_KEY"}}, "PORT": 8080}
  pgsecrets render --project billing --config env.json --format dotenv --out .env

  # Local development: let environment variables stand in for missing secrets
  pgsecrets render --project billing --config config.json --env-fallback | my-app --config -

  # Only BILLING_* variables and STRIPE_KEY may stand in
  pgsecrets render --project billing --config config.json --env-fallback --env-allow 'BILLING_*,STRIPE_KEY'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.resolve(cmd, &opts.File); err != nil {
				return err
			}
			if err := requireFlags(cmd, "project", "config"); err != nil {
				return err
			}
			if err := store.ValidateProject(opts.Project); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			switch {
			case opts.Format != renderJSON && opts.Format != renderDotenv:
				return usageErrorf(cmd, "--format %q is not supported: use %s or %s", opts.Format, renderJSON, renderDotenv)
			case opts.JSON() && opts.Format != renderJSON:
				return usageErrorf(cmd, "--output json is the json format and --format %s is not: pass one of the two", opts.Format)
			}
			if err := validateEnvAllow(opts.EnvFallback, opts.EnvAllow); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			return runRender(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Project, "project", "", "project whose secrets the references name (required)")
	f.StringVar(&opts.Config, "config", "", "the JSON configuration, \"-\" for stdin (required)")
	f.StringVar(&opts.Format, "format", renderJSON, "what to write: json (the config) or dotenv (NAME=value lines, inert when sourced)")
	f.BoolVar(&opts.EnvFallback, "env-fallback", false, "use an environment variable named like a secret missing from the database")
	f.StringSliceVar(&opts.EnvAllow, "env-allow", nil, "with --env-fallback, only these names may come from the environment; NAME or PREFIX_* (comma-separated or repeated)")
	f.StringVar(&opts.File, "out", "", "write the result to this file (mode 0600, complete or not at all) instead of stdout")
	output = addOutputFlag(cmd, g, "output format: text or json (json is --format json)")
	return cmd
}

func runRender(ctx context.Context, opts *RenderOptions) error {
	defer fewerGCs(64 << 20)()
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
			return st.GetValues(ctx, opts.Project, names, "cli render")
		},
	})
	if err != nil {
		return fmt.Errorf("render %s for project %s: %w", opts.Config, opts.Project, err)
	}

	content := append(res.Rendered, '\n')
	var inexact []string
	if opts.Format == renderDotenv {
		if content, inexact, err = dotenvFromJSON(res.Rendered); err != nil {
			return fmt.Errorf("render %s as dotenv: %w; nothing was written", opts.Config, err)
		}
	}
	if opts.File == "" {
		if _, err := opts.IO.Out.Write(content); err != nil {
			return fmt.Errorf("write the rendered config: %w", err)
		}
	} else if err := writeRendered(opts.File, content); err != nil {
		return err
	}
	// One write for the whole list, not one per reference.
	var sources strings.Builder
	for _, name := range res.References {
		fmt.Fprintf(&sources, "%s: %s\n", name, res.Sources[name])
	}
	if len(inexact) > 0 {
		fmt.Fprintf(&sources, "Warning: python-dotenv cannot read the value of %s exactly (a carriage return, ${...}, or $ or ` with a quote or a trailing backslash): it skips those lines, which shells and `pgsecrets import-env` read exactly; use --format json for a program that loads .env files with python-dotenv\n",
			strings.Join(inexact, ", "))
	}
	io.WriteString(opts.IO.ErrOut, sources.String())
	if opts.File != "" {
		fmt.Fprintf(opts.IO.ErrOut, "Rendered %d reference(s) into %s\n", len(res.References), opts.File)
	}
	return nil
}

// validateEnvAllow refuses an allow-list that would do nothing: without
// --env-fallback the environment is not read at all.
func validateEnvAllow(envFallback bool, envAllow []string) error {
	if len(envAllow) > 0 && !envFallback {
		return errors.New("--env-allow limits the environment fallback; add --env-fallback to turn it on")
	}
	if err := secretref.ValidateEnvAllow(envAllow); err != nil {
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

// writeRendered writes the result through the same temporary file and
// rename as audit export; os.CreateTemp makes the file 0600, which a file
// full of secret values needs.
func writeRendered(dest string, content []byte) error {
	file, err := createAtomic(dest)
	if err != nil {
		return err
	}
	defer file.abort()
	if _, err := file.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return file.commit()
}

// dotenvFromJSON turns a rendered config, one object of NAME: value pairs,
// into .env lines in the object's order, quoted by dotenv.Quote. inexact
// lists the names whose values python-dotenv cannot read exactly. Errors
// name keys, never values.
func dotenvFromJSON(rendered []byte) (content []byte, inexact []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(rendered))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("for dotenv the config must be one JSON object of NAME: value pairs")
	}
	var (
		b          bytes.Buffer
		badNames   []string
		notScalars []string
		nuls       []string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name := tok.(string) // an object key
		var value any
		if err := dec.Decode(&value); err != nil {
			return nil, nil, err
		}
		var text string
		switch v := value.(type) {
		case string:
			text = v
		case json.Number:
			text = v.String()
		case bool:
			text = strconv.FormatBool(v)
		default:
			notScalars = append(notScalars, name)
			continue
		}
		// Only a shell identifier: NAME=... is then an assignment, never a
		// command, wherever the line is read.
		if !dotenv.ValidName(name) {
			badNames = append(badNames, name)
			continue
		}
		if strings.IndexByte(text, 0) >= 0 {
			nuls = append(nuls, name)
			continue
		}
		quoted, exact := dotenv.Quote(text)
		if !exact {
			inexact = append(inexact, name)
		}
		fmt.Fprintf(&b, "%s=%s\n", name, quoted)
	}
	switch {
	case len(badNames) > 0:
		return nil, nil, fmt.Errorf("key(s) %s %s", strings.Join(badNames, ", "), notEnvNames(len(badNames)))
	case len(notScalars) > 0:
		return nil, nil, fmt.Errorf("the value of %s is an object, an array or null: a .env value is a string, a number or a boolean", strings.Join(notScalars, ", "))
	case len(nuls) > 0:
		return nil, nil, fmt.Errorf("the value of %s holds a NUL byte, which no environment variable can; use --format json", strings.Join(nuls, ", "))
	}
	return b.Bytes(), inexact, nil
}
