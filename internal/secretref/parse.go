// Package secretref resolves secret references in a JSON configuration:
// every object of the form
//
//	{"$secretRef": {"name": "OPENAI_API_KEY", "default": "optional"}}
//
// anywhere in the document (nested objects, arrays, the root) is replaced by
// the secret's value, as a JSON string. It knows nothing of Terraform, the
// CLI or SQL: the caller supplies a Lookup that fetches many secrets at once,
// so the Terraform provider and `pgsecrets render` resolve identically.
//
// Rules, chosen so that a typo never silently renders a wrong config:
//   - "$secretRef" must be the only key of its object (a sibling key would
//     be dropped by the replacement, so it is refused);
//   - its value is an object with a non-empty string "name" and optionally a
//     string "default"; any other key is refused;
//   - an object may not repeat a key (which value an application reads would
//     depend on its parser);
//   - numbers are kept digit for digit, object keys keep their order, and the
//     output is compact JSON without HTML escaping.
//
// Every malformed reference is reported at once, each with its JSON path
// (e.g. $.providers[0].apiKey); so is every missing secret.
package secretref

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Key is the object key that marks a secret reference.
const Key = "$secretRef"

// Reference is one "$secretRef" occurrence in a document.
type Reference struct {
	Name string
	// Path is the JSON path of the object the value replaces.
	Path string
	// Default is used when the secret is neither in the database nor (when
	// enabled) in the environment; nil when the reference gives none.
	Default *string
}

// Document is a parsed configuration, ready to render.
type Document struct {
	root any
	refs []Reference
}

// References lists the document's references in document order.
func (d *Document) References() []Reference { return d.refs }

// Names lists the distinct secret names referenced, sorted.
func (d *Document) Names() []string {
	seen := make(map[string]bool, len(d.refs))
	names := make([]string, 0, len(d.refs))
	for _, r := range d.refs {
		if !seen[r.Name] {
			seen[r.Name] = true
			names = append(names, r.Name)
		}
	}
	sort.Strings(names)
	return names
}

// Problem is one malformed reference or object.
type Problem struct {
	Path   string
	Reason string
}

// MalformedError lists every malformed reference in a document.
type MalformedError struct {
	Problems []Problem
}

func (e *MalformedError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Path + ": " + p.Reason
	}
	noun := "reference"
	if len(e.Problems) > 1 {
		noun = "references"
	}
	return fmt.Sprintf("%d malformed secret %s (write {%q: {\"name\": \"SECRET_NAME\"}} with an optional string \"default\", alone in its object): %s",
		len(e.Problems), noun, Key, strings.Join(parts, "; "))
}

// SyntaxError is a document that is not JSON.
type SyntaxError struct {
	Offset int64
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("config is not valid JSON at byte %d: %s", e.Offset, e.Reason)
}

// object keeps its members in document order.
type object struct {
	members []member
}

type member struct {
	key   string
	value any
}

// placeholder stands where a reference's value goes; index is into refs.
type placeholder int

type parser struct {
	dec      *json.Decoder
	refs     []Reference
	problems []Problem
}

// Parse reads a JSON document and finds its references. It fails with a
// *SyntaxError for invalid JSON and a *MalformedError listing every
// malformed reference.
func Parse(doc []byte) (*Document, error) {
	p := &parser{dec: json.NewDecoder(bytes.NewReader(doc))}
	p.dec.UseNumber()
	root, err := p.value("$")
	if err != nil {
		return nil, p.syntaxError(err)
	}
	end := p.dec.InputOffset()
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &SyntaxError{Offset: end, Reason: "unexpected data after the end of the document"}
	}
	if len(p.problems) > 0 {
		return nil, &MalformedError{Problems: p.problems}
	}
	return &Document{root: root, refs: p.refs}, nil
}

func (p *parser) syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &SyntaxError{Offset: se.Offset, Reason: se.Error()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &SyntaxError{Offset: p.dec.InputOffset(), Reason: "unexpected end of the document"}
	default:
		return &SyntaxError{Offset: p.dec.InputOffset(), Reason: err.Error()}
	}
}

func (p *parser) value(path string) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		return p.object(path)
	case json.Delim('['):
		var arr []any
		for i := 0; p.dec.More(); i++ {
			v, err := p.value(path + "[" + strconv.Itoa(i) + "]")
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := p.dec.Token(); err != nil { // ']'
			return nil, err
		}
		if arr == nil {
			arr = []any{}
		}
		return arr, nil
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

func (p *parser) object(path string) (any, error) {
	obj := &object{}
	seen := map[string]bool{}
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // the decoder only yields string keys
		v, err := p.value(childPath(path, key))
		if err != nil {
			return nil, err
		}
		if seen[key] {
			p.problems = append(p.problems, Problem{Path: path, Reason: fmt.Sprintf("key %q appears twice in one object", key)})
		}
		seen[key] = true
		obj.members = append(obj.members, member{key: key, value: v})
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return nil, err
	}
	if !seen[Key] {
		return obj, nil
	}
	return p.reference(path, obj), nil
}

// reference checks an object holding "$secretRef" and records it. On a
// problem it returns the object unchanged; Parse then fails anyway.
func (p *parser) reference(path string, obj *object) any {
	bad := func(reason string) any {
		p.problems = append(p.problems, Problem{Path: path, Reason: reason})
		return obj
	}
	if len(obj.members) != 1 {
		var others []string
		for _, m := range obj.members {
			if m.key != Key {
				others = append(others, strconv.Quote(m.key))
			}
		}
		return bad(fmt.Sprintf("%q must be the only key of its object, found also %s", Key, strings.Join(others, ", ")))
	}
	spec, ok := obj.members[0].value.(*object)
	if !ok {
		return bad(fmt.Sprintf("%q must be an object, found %s", Key, kind(obj.members[0].value)))
	}
	var (
		ref               = Reference{Path: path}
		hasName, problems bool
	)
	for _, m := range spec.members {
		switch m.key {
		case "name":
			name, ok := m.value.(string)
			switch {
			case !ok:
				bad(fmt.Sprintf("%q name must be a string, found %s", Key, kind(m.value)))
				problems = true
			case name == "":
				bad(fmt.Sprintf("%q name is empty", Key))
				problems = true
			}
			ref.Name, hasName = name, true
		case "default":
			def, ok := m.value.(string)
			if !ok {
				bad(fmt.Sprintf("%q default must be a string, found %s", Key, kind(m.value)))
				problems = true
			}
			ref.Default = &def
		default:
			bad(fmt.Sprintf("unknown key %q in %q (allowed: \"name\", \"default\")", m.key, Key))
			problems = true
		}
	}
	if !hasName {
		return bad(fmt.Sprintf("%q has no \"name\"", Key))
	}
	if problems {
		return obj
	}
	p.refs = append(p.refs, ref)
	return placeholder(len(p.refs) - 1)
}

// kind names a decoded value's JSON type, for messages; never its content.
func kind(v any) string {
	switch v.(type) {
	case *object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case placeholder:
		return "a secret reference"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// childPath appends key to a JSON path: .key for identifier-like keys,
// ["key"] otherwise, so every path is unambiguous.
func childPath(path, key string) string {
	if isIdentifier(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
