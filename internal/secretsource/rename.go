package secretsource

import (
	"fmt"
	"strings"
)

// Rules turn the keys of a file into secret names. They apply in this
// order: WithPath, EnvNames, Upper, Prefix.
type Rules struct {
	// WithPath puts a Vault dump's path before the key, joined by '_'
	// (app/db and password make app_db_password), so the same key at two
	// paths makes two names.
	WithPath bool
	// EnvNames replaces every character an environment variable name
	// cannot hold ('.', '-', '/', spaces...) with '_'.
	EnvNames bool
	// Upper upper-cases the name.
	Upper bool
	// Prefix is put before the name.
	Prefix string
}

// Name is the name rules give an entry.
func (r Rules) Name(e Entry) string {
	name := e.Key
	if r.WithPath && e.Path != "" {
		name = strings.ReplaceAll(strings.Trim(e.Path, "/"), "/", "_") + "_" + name
	}
	if r.EnvNames {
		name = envName(name)
	}
	if r.Upper {
		name = strings.ToUpper(name)
	}
	return r.Prefix + name
}

// Suggest is what the rules plus EnvNames and Upper make of an entry's
// key: the name to propose for a key that is no valid name.
func (r Rules) Suggest(e Entry) string {
	r.EnvNames, r.Upper = true, true
	return r.Name(e)
}

func envName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
		} else if c < 0x80 || c >= 0xC0 { // one '_' per character, not per byte
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Named is an entry with the name it will be stored as.
type Named struct {
	Entry
	Name string
}

// Rename names every entry by the rules. Two entries that end with one
// name are an error naming both keys and where they are: storing one
// would drop the other silently.
func Rename(entries []Entry, r Rules) ([]Named, error) {
	out := make([]Named, 0, len(entries))
	seen := make(map[string]int, len(entries))
	for _, e := range entries {
		name := r.Name(e)
		if i, dup := seen[name]; dup {
			first := out[i]
			return nil, fmt.Errorf("%s (%s) and %s (%s) both become the secret name %s; remove one from the file, or rename differently (--with-path keeps a Vault dump's paths apart)", first.Key, first.Source, e.Key, e.Source, name)
		}
		seen[name] = len(out)
		out = append(out, Named{Entry: e, Name: name})
	}
	return out, nil
}
