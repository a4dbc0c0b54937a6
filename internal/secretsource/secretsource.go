// Package secretsource reads the files other secret tools export (dotenv,
// sops-decrypted JSON and YAML, Vault KV, Doppler, Infisical, Kubernetes
// Secret manifests) into one ordered list of keys and values, so they can
// be moved into the encrypted store. It only parses: it writes nothing and
// knows nothing of the store, Terraform or the command line.
//
// Every file is read whole or not at all: a syntax error, a duplicate key,
// a nested value that was not asked for, a YAML alias or a file larger
// than MaxFileBytes is an error, and no entry is returned. Errors name
// lines, key paths and keys, never a value.
package secretsource

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// MaxFileBytes bounds what is read and parsed. It is 16 times the most a
// secret's value holds: a larger file is not a file of secrets, and
// capping the input before parsing keeps memory bounded whatever arrives.
const MaxFileBytes = 16 << 20

// maxDepth bounds nesting, in JSON and YAML alike. Secrets files are flat
// or a few levels deep (Vault's data.data, a vkv directory tree).
const maxDepth = 64

// Format is the syntax of a file.
type Format string

const (
	Auto   Format = ""
	Dotenv Format = "dotenv"
	JSON   Format = "json"
	YAML   Format = "yaml"
)

// Formats are the names --format accepts.
var Formats = []Format{Dotenv, JSON, YAML}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Auto, Dotenv, JSON, YAML:
		return f, nil
	case "env", ".env":
		return Dotenv, nil
	case "yml":
		return YAML, nil
	}
	return "", fmt.Errorf("unknown format %q: use dotenv, json or yaml", s)
}

// Nested says what to do with a value that is a map or a list.
type Nested int

const (
	// RefuseNested makes a nested value an error that names its key path:
	// a secret is one string, and guessing how to flatten a structure
	// would store something the application never read.
	RefuseNested Nested = iota
	// NestedAsJSON stores a nested value as its JSON text, keys in file
	// order.
	NestedAsJSON
)

// Options control Parse.
type Options struct {
	Format Format // Auto: from the file name, else from the content
	Name   string // the file's name, for Auto; "-" or "" for stdin
	Nested Nested
}

// Entry is one key and its value, in file order.
type Entry struct {
	Key   string // as in the file
	Value string
	// Source says where the key is: "line 3" in a dotenv file, a key path
	// such as "data.data.API_KEY" or "secret/app/db:password" otherwise.
	Source string
	// Path is the secret's path inside a Vault mount ("app/db"), for
	// entries of a dump of several paths; empty otherwise.
	Path string
	// Line is where the key is (1-based), when the syntax has lines to
	// tell (dotenv, YAML); 0 otherwise.
	Line int
	// Description is the source's own note on the key (an Infisical
	// comment), if any.
	Description string
}

// Dropped is a key the source exported that is not a secret of the
// application (Doppler's own DOPPLER_* settings, an Infisical personal
// override), with why it is left out.
type Dropped struct {
	Key, Source, Reason string
}

// Result is a parsed file.
type Result struct {
	Format Format
	// Shape names what the file was read as, e.g. "Vault KV v2 (vault kv
	// get -format=json)", for reports and descriptions.
	Shape string
	// Generic is true when the shape is no one tool's (dotenv, a plain
	// map), so Shape says nothing worth keeping in a description.
	Generic bool
	Entries []Entry
	Dropped []Dropped
}

// Parse reads content (at most MaxFileBytes) as opts says.
func Parse(content []byte, opts Options) (*Result, error) {
	if len(content) > MaxFileBytes {
		return nil, fmt.Errorf("the file is larger than %d MiB, more than a file of secrets holds", MaxFileBytes>>20)
	}
	format := opts.Format
	if format == Auto {
		format = Detect(opts.Name, content)
	}
	var (
		res *Result
		err error
	)
	switch format {
	case Dotenv:
		res, err = parseDotenv(string(content))
	case JSON, YAML:
		var root *node
		if format == JSON {
			// Editors on Windows start UTF-8 files with a byte order mark,
			// which encoding/json does not take.
			root, err = parseJSON(bytes.TrimPrefix(content, []byte("\ufeff")))
		} else {
			root, err = parseYAML(content)
		}
		if err != nil {
			return nil, err
		}
		res, err = extract(root, opts.Nested, format == YAML)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		return nil, err
	}
	res.Format = format
	if err := refuseEncrypted(res.Entries); err != nil {
		return nil, err
	}
	return res, nil
}

// Detect guesses a file's format: by its name's extension, else by its
// first significant line ('{' or '[' is JSON, NAME=... is dotenv,
// anything else YAML).
func Detect(name string, content []byte) Format {
	base := strings.ToLower(filepath.Base(name))
	switch ext := filepath.Ext(base); {
	case ext == ".json":
		return JSON
	case ext == ".yaml" || ext == ".yml":
		return YAML
	case ext == ".env" || base == ".env" || strings.HasPrefix(base, ".env."):
		return Dotenv
	}
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		if line[0] == '{' || line[0] == '[' {
			return JSON
		}
		if looksLikeAssignment(line) {
			return Dotenv
		}
		return YAML
	}
	return Dotenv
}

func looksLikeAssignment(line string) bool {
	line = strings.TrimPrefix(line, "export ")
	eq := strings.IndexByte(line, '=')
	colon := strings.IndexByte(line, ':')
	return eq > 0 && (colon < 0 || eq < colon)
}

// errEncrypted is returned for a file still encrypted by sops: importing
// its ciphertexts as values would store nothing usable.
var errEncrypted = errors.New("the file is still encrypted by sops (it holds sops metadata or ENC[...] values); decrypt it first: sops -d FILE | pgsecrets import --project P --format FORMAT -")

func refuseEncrypted(entries []Entry) error {
	for _, e := range entries {
		if e.Key == "sops_mac" || e.Key == "sops_version" || strings.HasPrefix(e.Value, "ENC[AES256_GCM,data:") {
			return errEncrypted
		}
	}
	return nil
}
