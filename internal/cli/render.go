package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/gctune"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// maxConfigSize bounds the configuration read by render.
const maxConfigSize = 64 << 20

// Formats of `render --format`.
const (
	renderJSON   = "json"
	renderDotenv = "dotenv"
	renderYAML   = "yaml"
)

// RenderOptions configure `pgsecrets render`.
type RenderOptions struct {
	*globalOptions
	readFlags
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
		Short: "Write a project's secrets, or a config with its secret references resolved, as JSON, .env or YAML",
		Long: `Without --config, write every secret of --project as one flat document of
NAME and value: --format dotenv (NAME=value lines), json (one object) or
yaml (one map), sorted by name, read in one query and audited as one read
of every name. This is what ` + "`doppler secrets download`" + `, ` + "`infisical export`" + ` or
` + "`sops -d`" + ` give: a .env file for a tool that reads one, in one command.

With --config, read a JSON configuration and replace every
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

` + readURLHelp + `

Where each name came from is printed on stderr, never a value. A missing
secret is an error listing every missing name with its JSON path, and
nothing is written.

--format json (the default) writes the config as compact JSON. --format
dotenv writes a .env file instead, and --format yaml a YAML map: the config
must then be one JSON object whose values are references, strings, numbers
or booleans; each becomes a line, in the config's order. For dotenv its
keys must be variable names (letters, digits and '_', not starting with a
digit, so that every line is an assignment, never a command); YAML quotes
every key and value ("NAME": "value", with JSON's escapes, which YAML
reads alike), so nothing in either is read as YAML syntax. JSON and YAML
carry UTF-8 text: a value that is not is refused, naming it (dotenv
carries any bytes but NUL). A dotenv value never runs code or defines
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
		Example: `  # Every secret of a project as a .env file (mode 0600), or as JSON or YAML
  pgsecrets render --project billing --format dotenv --out .env
  pgsecrets render --project billing --format yaml

  # A config with its references resolved
  pgsecrets render --project billing --config config.json --out /run/billing/config.json

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
			if err := requireProject(cmd, opts.Project); err != nil {
				return err
			}
			switch {
			case opts.Format != renderJSON && opts.Format != renderDotenv && opts.Format != renderYAML:
				return usageErrorf(cmd, "--format %q is not supported: use %s, %s or %s", opts.Format, renderJSON, renderDotenv, renderYAML)
			case opts.Config == "" && opts.EnvFallback:
				return usageErrorf(cmd, "--env-fallback lets the environment stand in for a config's references; without --config every secret of the project is written, and none is missing")
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
	f.StringVar(&opts.Config, "config", "", "the JSON configuration to resolve, \"-\" for stdin; without it, every secret of the project")
	f.StringVar(&opts.Format, "format", renderJSON, "what to write: json, dotenv (NAME=value lines, inert when sourced) or yaml")
	f.BoolVar(&opts.EnvFallback, "env-fallback", false, "use an environment variable named like a secret missing from the database")
	f.StringSliceVar(&opts.EnvAllow, "env-allow", nil, "with --env-fallback, only these names may come from the environment; NAME or PREFIX_* (comma-separated or repeated)")
	f.StringVar(&opts.File, "out", "", "write the result to this file (mode 0600, complete or not at all) instead of stdout")
	output = addOutputFlag(cmd, g, "output format: text or json (json is --format json)")
	opts.readFlags.add(cmd)
	return cmd
}

func runRender(ctx context.Context, opts *RenderOptions) error {
	defer gctune.FewerGCs(64 << 20)()
	var (
		r   rendering
		err error
	)
	if opts.Config == "" {
		r, err = renderProject(ctx, opts)
	} else {
		r, err = renderConfig(ctx, opts)
	}
	if err != nil {
		return err
	}
	content, inexact, err := r.format(opts.Format)
	if err != nil {
		return fmt.Errorf("render %s as %s: %w; nothing was written", r.what, opts.Format, err)
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
	if opts.Config != "" {
		for i, name := range r.res.References {
			fmt.Fprintf(&sources, "%s: %s\n", name, r.res.Sources[i])
		}
	}
	if len(inexact) > 0 {
		fmt.Fprintf(&sources, "Warning: python-dotenv cannot read the value of %s exactly (a carriage return, ${...}, or $ or ` with a quote or a trailing backslash): it skips those lines, which shells and `pgsecrets import-env` read exactly; use --format json for a program that loads .env files with python-dotenv\n",
			strings.Join(inexact, ", "))
	}
	if opts.File != "" {
		if opts.Config != "" {
			fmt.Fprintf(&sources, "Rendered %d reference(s) into %s\n", len(r.res.References), opts.File)
		} else {
			fmt.Fprintf(&sources, "Wrote %d secret(s) of project %s into %s\n", len(r.pairs), opts.Project, opts.File)
		}
	}
	io.WriteString(opts.IO.ErrOut, sources.String())
	return nil
}

// rendering is what render writes: a resolved config, or the pairs of a
// project's secrets.
type rendering struct {
	what  string // for messages: the config file, or the project
	res   *secretref.Result
	pairs []pair // set for a project; for a config, read from res on demand
}

// pair is one NAME and value of a flat document.
type pair struct {
	name  string
	value []byte
}

// renderConfig resolves the references of the --config document.
func renderConfig(ctx context.Context, opts *RenderOptions) (rendering, error) {
	doc, err := readConfig(opts)
	if err != nil {
		return rendering{}, err
	}
	// Parse before connecting: a malformed config fails without a database.
	parsed, err := secretref.Parse(doc)
	if err != nil {
		return rendering{}, fmt.Errorf("parse %s: %w", opts.Config, err)
	}
	var st *store.Store
	if len(parsed.References()) > 0 {
		if st, err = opts.OpenStoreForReads(ctx, opts.readFlags); err != nil {
			return rendering{}, err
		}
		defer st.Close()
	}
	res, err := parsed.Resolve(ctx, secretref.Options{
		EnvFallback: opts.EnvFallback,
		EnvAllow:    opts.EnvAllow,
		Lookup: func(names []string) ([][]byte, error) {
			return st.LookupValues(ctx, opts.Project, names, "cli render")
		},
	})
	if err != nil {
		return rendering{}, fmt.Errorf("render %s for project %s: %w", opts.Config, opts.Project, err)
	}
	return rendering{what: opts.Config, res: &res}, nil
}

// renderProject reads every secret of the project, in one audited read.
func renderProject(ctx context.Context, opts *RenderOptions) (rendering, error) {
	st, err := opts.OpenStoreForReads(ctx, opts.readFlags)
	if err != nil {
		return rendering{}, err
	}
	defer st.Close()
	values, err := st.GetProjectValues(ctx, opts.Project, "cli render")
	if err != nil {
		return rendering{}, err
	}
	if len(values) == 0 {
		return rendering{}, fmt.Errorf("project %s has no secrets; nothing was written; `pgsecrets secret list` shows every project's secrets", opts.Project)
	}
	r := rendering{what: "project " + opts.Project}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		r.pairs = append(r.pairs, pair{name, values[name]})
	}
	return r, nil
}

// format writes the rendering in one of render's formats; inexact lists
// the dotenv names python-dotenv cannot read exactly.
func (r rendering) format(format string) (content []byte, inexact []string, err error) {
	if format == renderJSON && r.res != nil {
		return append(r.res.Rendered, '\n'), nil, nil
	}
	pairs := r.pairs
	if r.res != nil {
		if pairs, err = flatPairs(r.res.Rendered); err != nil {
			return nil, nil, err
		}
	}
	switch format {
	case renderDotenv:
		return dotenvLines(pairs)
	case renderYAML:
		content, err = quotedLines(pairs, "", ": ", "\n", "")
	default:
		content, err = quotedLines(pairs, "{", ":", ",", "}\n")
	}
	return content, nil, err
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

// flatPairs reads a rendered config that is one object of NAME: value
// pairs, in the object's order. Errors name keys, never values.
func flatPairs(rendered []byte) ([]pair, error) {
	dec := json.NewDecoder(bytes.NewReader(rendered))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("the config must be one JSON object of NAME: value pairs")
	}
	var (
		pairs      []pair
		notScalars []string
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name := tok.(string) // an object key
		var value any
		if err := dec.Decode(&value); err != nil {
			return nil, err
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
		pairs = append(pairs, pair{name, []byte(text)})
	}
	if len(notScalars) > 0 {
		return nil, fmt.Errorf("the value of %s is an object, an array or null: a flat value is a string, a number or a boolean", strings.Join(notScalars, ", "))
	}
	return pairs, nil
}

// dotenvLines writes NAME=value lines, quoted by dotenv.Quote. inexact
// lists the names whose values python-dotenv cannot read exactly.
func dotenvLines(pairs []pair) (content []byte, inexact []string, err error) {
	var (
		b        bytes.Buffer
		badNames []string
		nuls     []string
	)
	for _, p := range pairs {
		// Only a shell identifier: NAME=... is then an assignment, never a
		// command, wherever the line is read.
		if !dotenv.ValidName(p.name) {
			badNames = append(badNames, p.name)
			continue
		}
		if bytes.IndexByte(p.value, 0) >= 0 {
			nuls = append(nuls, p.name)
			continue
		}
		quoted, exact := dotenv.Quote(string(p.value))
		if !exact {
			inexact = append(inexact, p.name)
		}
		fmt.Fprintf(&b, "%s=%s\n", p.name, quoted)
	}
	switch {
	case len(badNames) > 0:
		return nil, nil, fmt.Errorf("key(s) %s %s", strings.Join(badNames, ", "), notEnvNames(len(badNames)))
	case len(nuls) > 0:
		return nil, nil, fmt.Errorf("the value of %s holds a NUL byte, which no environment variable can; use --format json", strings.Join(nuls, ", "))
	}
	return b.Bytes(), inexact, nil
}

// quotedLines writes every name and value as a JSON string, which a JSON
// object and a YAML map (whose double-quoted scalars take JSON's escapes)
// read alike: nothing in a name or value is syntax. Both carry text, so a
// value that is not UTF-8 is refused, naming it.
func quotedLines(pairs []pair, open, colon, sep, close string) ([]byte, error) {
	var (
		b       bytes.Buffer
		notUTF8 []string
	)
	b.WriteString(open)
	for i, p := range pairs {
		if !utf8.Valid(p.value) {
			notUTF8 = append(notUTF8, p.name)
			continue
		}
		if i > 0 {
			b.WriteString(sep)
		}
		writeJSONString(&b, p.name)
		b.WriteString(colon)
		writeJSONString(&b, string(p.value))
	}
	if len(notUTF8) > 0 {
		return nil, fmt.Errorf("the value of %s is not UTF-8 text, which JSON and YAML carry; use --format dotenv", strings.Join(notUTF8, ", "))
	}
	if sep == "\n" && len(pairs) > 0 {
		b.WriteString(sep)
	}
	b.WriteString(close)
	return b.Bytes(), nil
}

// writeJSONString writes s as a JSON string, leaving <, > and & as they
// are: the output is a file, not HTML.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}
