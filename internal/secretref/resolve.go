package secretref

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/envpolicy"
)

// Where a reference's value came from, in the order they are tried.
const (
	SourceDatabase    = "database"
	SourceEnvironment = "environment"
	SourceDefault     = "default"
)

// Options says where values come from.
type Options struct {
	// Lookup fetches secrets by name: values[i] is names[i]'s value, nil
	// when that secret does not exist (a secret's value is never nil, even
	// when empty). Resolve calls it exactly once, with every distinct name,
	// sorted, so a database answers in one query however many references
	// there are; it is not called for a document without references. A
	// slice lined up with names, not a map: a config of ten thousand
	// references would otherwise hash every name three times.
	Lookup func(names []string) (values [][]byte, err error)
	// EnvFallback lets an environment variable named like the secret stand
	// in for a secret missing from the database. Opt-in: an ambient variable
	// silently shadowing a forgotten secret would surprise. Some names never
	// come from the environment, whatever the options: see EnvRefusal.
	EnvFallback bool
	// EnvAllow, when not empty, limits the environment fallback to these
	// names; an entry ending in "*" allows every name with that prefix
	// ("APP_*"). Check it with ValidateEnvAllow.
	EnvAllow []string
	// Getenv reads an environment variable; nil means os.LookupEnv. A
	// variable that is set, even to "", counts as present.
	Getenv func(name string) (string, bool)
}

// EnvRefusal is the environment fallback's policy, the one place it is
// decided: why the environment may not supply name, or "" when it may.
// Settings that hold credentials (envpolicy.Credential: pgsecrets',
// PostgreSQL's and Terraform's) are refused whatever allow says; otherwise, when
// allow is not empty, so is every name that matches none of its entries
// (a name, or a prefix ending in "*").
func EnvRefusal(name string, allow []string) string {
	if why := envpolicy.Credential(name); why != "" {
		return why
	}
	if len(allow) > 0 && !envAllowed(name, allow) {
		return "it matches no entry of the environment allow-list (" + strings.Join(allow, ", ") + ")"
	}
	return ""
}

func envAllowed(name string, allow []string) bool {
	for _, entry := range allow {
		if stem, prefix := strings.CutSuffix(entry, "*"); prefix && strings.HasPrefix(name, stem) || name == entry {
			return true
		}
	}
	return false
}

// ValidateEnvAllow checks an allow-list for Options.EnvAllow, so that the
// CLI and Terraform refuse a mistyped entry before anything is resolved
// rather than leave it matching nothing.
func ValidateEnvAllow(allow []string) error {
	for _, entry := range allow {
		stem, _ := strings.CutSuffix(entry, "*")
		switch {
		case entry == "":
			return errors.New("environment allow-list: an entry is empty; give a name (APP_TOKEN) or a prefix ending in * (APP_*)")
		case strings.ContainsAny(entry, " \t\r\n"):
			return fmt.Errorf("environment allow-list entry %q contains whitespace; give a name (APP_TOKEN) or a prefix ending in * (APP_*)", entry)
		case strings.Contains(stem, "*"):
			return fmt.Errorf("environment allow-list entry %q has a * before its end; only a trailing * is supported, as a prefix (APP_*)", entry)
		}
	}
	return nil
}

// Result is a rendered document.
type Result struct {
	// Rendered is the document with every reference replaced by its value,
	// as compact JSON. It holds secret values: never log it.
	Rendered []byte
	// References are the distinct names referenced, sorted.
	References []string
	// Sources[i] says where References[i]'s value came from:
	// SourceDatabase, SourceEnvironment or SourceDefault.
	Sources []string
}

// MissingSecret is a name found nowhere, with every path referencing it.
type MissingSecret struct {
	Name  string
	Paths []string
	// EnvRefused, when set, says why the environment may not supply Name
	// (see EnvRefusal), so that the error does not suggest it.
	EnvRefused string
}

// MissingError lists every reference that could not be resolved.
type MissingError struct {
	Missing     []MissingSecret // sorted by name
	EnvFallback bool
}

func (e *MissingError) Error() string {
	parts := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		parts[i] = fmt.Sprintf("%q at %s", m.Name, strings.Join(m.Paths, ", "))
		if m.EnvRefused != "" {
			parts[i] += " (it may not come from the environment: " + m.EnvRefused + ")"
		}
	}
	where := "in the database"
	fix := `create them, give the references a "default", or enable the environment fallback`
	if e.EnvFallback {
		where = "in the database or the environment"
		fix = `create them, set environment variables of the same names, or give the references a "default"`
	}
	if !e.EnvMayHelp() {
		fix = `create them or give the references a "default"`
	}
	noun := "secret"
	if len(e.Missing) > 1 {
		noun = "secrets"
	}
	return fmt.Sprintf("%d referenced %s not found %s and without a default: %s; %s",
		len(e.Missing), noun, where, strings.Join(parts, "; "), fix)
}

// EnvMayHelp reports whether an environment variable could supply any of
// the missing names, with the environment fallback on.
func (e *MissingError) EnvMayHelp() bool {
	for _, m := range e.Missing {
		if m.EnvRefused == "" {
			return true
		}
	}
	return false
}

// NotTextError is a value that cannot go into a JSON string.
type NotTextError struct {
	Name   string
	Source string
}

func (e *NotTextError) Error() string {
	return fmt.Sprintf("secret %q (from the %s) is not valid UTF-8 text, so it cannot be placed in a JSON string; store it encoded, e.g. as base64", e.Name, e.Source)
}

// Resolve parses doc and renders it with every reference resolved: from
// the database (Lookup), then, if EnvFallback and EnvRefusal allows the
// name, an environment variable of the same name, then the reference's
// default. Errors: *SyntaxError, *DepthError, *MalformedError,
// *MissingError (every missing name with its paths), *NotTextError, an
// invalid EnvAllow, or Lookup's error wrapped.
func Resolve(ctx context.Context, doc []byte, opts Options) (Result, error) {
	d, err := Parse(doc)
	if err != nil {
		return Result{}, err
	}
	return d.Resolve(ctx, opts)
}

// Resolve renders a parsed document; see the package function Resolve.
func (d *Document) Resolve(ctx context.Context, opts Options) (Result, error) {
	if opts.Lookup == nil {
		return Result{}, errors.New("secretref: Options.Lookup is required")
	}
	if err := ValidateEnvAllow(opts.EnvAllow); err != nil {
		return Result{}, err
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	names, nameOf := d.names()
	res := Result{References: names, Sources: make([]string, len(names))}

	var values [][]byte
	if len(names) > 0 {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		var err error
		if values, err = opts.Lookup(names); err != nil {
			return Result{}, fmt.Errorf("look up %d referenced secret(s): %w", len(names), err)
		}
		if len(values) != len(names) {
			return Result{}, fmt.Errorf("secretref: Lookup answered %d values for %d names; this is a bug", len(values), len(names))
		}
	}

	// Per name: the database or the environment, when either has it.
	var fromEnv [][]byte
	for i, name := range names {
		if v := values[i]; v != nil {
			if !utf8.Valid(v) {
				return Result{}, &NotTextError{Name: name, Source: SourceDatabase}
			}
			res.Sources[i] = SourceDatabase
			continue
		}
		if opts.EnvFallback && EnvRefusal(name, opts.EnvAllow) == "" {
			if v, ok := getenv(name); ok {
				if !utf8.ValidString(v) {
					return Result{}, &NotTextError{Name: name, Source: SourceEnvironment}
				}
				if fromEnv == nil {
					fromEnv = make([][]byte, len(names))
				}
				fromEnv[i], res.Sources[i] = []byte(v), SourceEnvironment
			}
		}
	}

	// Per reference: the named value, else this reference's own default.
	holes := make([][]byte, len(d.refs))
	var missing map[string][]string
	for i, r := range d.refs {
		n := i
		if nameOf != nil {
			n = nameOf[i]
		}
		if v := values[n]; v != nil {
			holes[i] = v
			continue
		}
		if fromEnv != nil && fromEnv[n] != nil {
			holes[i] = fromEnv[n]
			continue
		}
		if r.Default != nil {
			holes[i] = []byte(*r.Default)
			res.Sources[n] = SourceDefault
			continue
		}
		if missing == nil {
			missing = map[string][]string{}
		}
		missing[r.Name] = append(missing[r.Name], r.Path)
	}
	if len(missing) > 0 {
		return Result{}, missingError(missing, opts)
	}

	res.Rendered = d.tmpl.render(holes)
	return res, nil
}

// missingError lists the missing names, each with why the environment may
// not supply it, if that is so. Without the fallback only names that are
// never taken from the environment say so: the allow-list does not apply.
func missingError(missing map[string][]string, opts Options) *MissingError {
	e := &MissingError{EnvFallback: opts.EnvFallback}
	for name, paths := range missing {
		m := MissingSecret{Name: name, Paths: paths}
		if opts.EnvFallback {
			m.EnvRefused = EnvRefusal(name, opts.EnvAllow)
		} else {
			m.EnvRefused = EnvRefusal(name, nil)
		}
		e.Missing = append(e.Missing, m)
	}
	sort.Slice(e.Missing, func(i, j int) bool { return e.Missing[i].Name < e.Missing[j].Name })
	return e
}

// render copies the template with values[i] in hole i.
func (t *template) render(values [][]byte) []byte {
	size := len(t.text)
	for _, v := range values {
		size += len(v) + 2
	}
	out := make([]byte, 0, size)
	last := 0
	for i, at := range t.holes {
		out = append(out, t.text[last:at]...)
		out = appendString(out, values[i])
		last = at
	}
	return append(out, t.text[last:]...)
}

// write renders a value the parser built, as compact JSON, each reference
// a hole.
func (t *template) write(v any) error {
	switch v := v.(type) {
	case *object:
		t.text = append(t.text, '{')
		for i, m := range v.members {
			if i > 0 {
				t.text = append(t.text, ',')
			}
			t.text = appendString(t.text, m.key)
			t.text = append(t.text, ':')
			if err := t.write(m.value); err != nil {
				return err
			}
		}
		t.text = append(t.text, '}')
	case []any:
		t.text = append(t.text, '[')
		for i, e := range v {
			if i > 0 {
				t.text = append(t.text, ',')
			}
			if err := t.write(e); err != nil {
				return err
			}
		}
		t.text = append(t.text, ']')
	case placeholder:
		t.holes = append(t.holes, len(t.text))
	case string:
		t.text = appendString(t.text, v)
	case json.Number:
		t.text = append(t.text, v...) // exactly the digits of the input
	case bool:
		t.text = strconv.AppendBool(t.text, v)
	case nil:
		t.text = append(t.text, "null"...)
	default:
		return fmt.Errorf("secretref: cannot render %T; this is a bug", v)
	}
	return nil
}

// appendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping ("<", ">", "&" stay readable; still valid JSON).
func appendString[T string | []byte](dst []byte, s T) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	// Escapes, and encoding/json's rules for invalid UTF-8 and for U+2028
	// and U+2029.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s)) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
