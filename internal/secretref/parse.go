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
// (e.g. $.providers[0].apiKey); so is every missing secret. Objects and
// arrays may nest at most MaxDepth levels.
package secretref

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
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
	refs []Reference
	tmpl template
}

// template is a document rendered as compact JSON with each reference cut
// out: holes[i] is the offset in text where refs[i]'s value goes. Both
// parses build it, so rendering is copying.
type template struct {
	text  []byte
	holes []int
}

// References lists the document's references in document order.
func (d *Document) References() []Reference { return d.refs }

// Names lists the distinct secret names referenced, sorted.
func (d *Document) Names() []string {
	names, _ := d.names()
	return names
}

// names lists the distinct secret names referenced, sorted, and which of
// them each reference names: refs[i] names names[nameOf[i]], or, with
// nameOf nil, names[i] (every name referenced once, in order, as in a
// generated config, and the common case).
func (d *Document) names() (names []string, nameOf []int) {
	names = make([]string, 0, len(d.refs))
	for _, r := range d.refs {
		if len(names) > 0 && r.Name <= names[len(names)-1] {
			break // not in order: sorted below
		}
		names = append(names, r.Name)
	}
	if len(names) == len(d.refs) {
		return names, nil
	}
	seen := make(map[string]bool, len(d.refs))
	names = names[:0]
	for _, r := range d.refs {
		if !seen[r.Name] {
			seen[r.Name] = true
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	nameOf = make([]int, len(d.refs))
	for i, r := range d.refs {
		nameOf[i], _ = slices.BinarySearch(names, r.Name)
	}
	return names, nameOf
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

// MaxDepth is how many objects and arrays may enclose one another. Real
// configs nest a handful of levels; without a limit a hostile document of
// nested brackets costs memory and stack out of all proportion to its size.
const MaxDepth = 256

// DepthError is a document nesting objects and arrays deeper than MaxDepth.
type DepthError struct {
	// Offset is the byte offset of the first '{' or '[' beyond the limit.
	Offset int64
	// Path is the JSON path of the value at that offset, truncated.
	Path string
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("config nests objects and arrays deeper than the limit of %d levels, at byte %d under %s; flatten the document",
		MaxDepth, e.Offset, e.Path)
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

// parser reads a document token by token with encoding/json's Decoder,
// into a tree: the path for whatever the scanner does not read, which
// finds and explains every problem.
type parser struct {
	dec *json.Decoder
	// at holds one step per enclosing object member or array element: the
	// path of the value being parsed, kept as steps so that a path string
	// is built only for a reference or a problem, not at every level.
	at       []step
	refs     []Reference
	problems []Problem
}

// step is one level of a JSON path: an object key, or an array index when
// inArray.
type step struct {
	key     string
	index   int
	inArray bool
}

// Parse reads a JSON document and finds its references. It fails with a
// *SyntaxError for invalid JSON, a *DepthError for nesting deeper than
// MaxDepth and a *MalformedError listing every malformed reference.
func Parse(doc []byte) (*Document, error) {
	// The scanner reads well-formed documents; the Decoder reads again, and
	// explains, anything the scanner gives up on. Both read a document the
	// same way up to the depth limit.
	if d, err := scanDocument(doc); err != errNotScanned {
		return d, err
	}
	return parseTokens(doc)
}

// parseTokens parses doc with the Decoder.
func parseTokens(doc []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	p := &parser{dec: dec}
	root, err := p.value()
	if err != nil {
		return nil, p.parseError(err)
	}
	end := p.dec.InputOffset()
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &SyntaxError{Offset: end, Reason: "unexpected data after the end of the document"}
	}
	if len(p.problems) > 0 {
		return nil, &MalformedError{Problems: p.problems}
	}
	tmpl := template{text: []byte{}}
	if err := tmpl.write(root); err != nil {
		return nil, err
	}
	return &Document{refs: p.refs, tmpl: tmpl}, nil
}

// parseError turns what stopped the parse into a *SyntaxError, or passes a
// *DepthError on.
func (p *parser) parseError(err error) error {
	var (
		se *json.SyntaxError
		de *DepthError
	)
	switch {
	case errors.As(err, &de):
		return de
	case errors.As(err, &se):
		return &SyntaxError{Offset: se.Offset, Reason: se.Error()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &SyntaxError{Offset: p.dec.InputOffset(), Reason: "unexpected end of the document"}
	default:
		return &SyntaxError{Offset: p.dec.InputOffset(), Reason: err.Error()}
	}
}

func (p *parser) value() (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return tok, nil // string, json.Number, bool or nil
	}
	// len(p.at) objects and arrays enclose this one.
	if len(p.at) >= MaxDepth {
		return nil, &DepthError{Offset: p.dec.InputOffset() - 1, Path: p.path(depthPathBudget)}
	}
	if tok == json.Delim('{') {
		return p.object()
	}
	return p.array()
}

func (p *parser) array() (any, error) {
	arr := []any{}
	p.at = append(p.at, step{inArray: true})
	for i := 0; p.dec.More(); i++ {
		p.at[len(p.at)-1].index = i
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	p.at = p.at[:len(p.at)-1]
	if _, err := p.dec.Token(); err != nil { // ']'
		return nil, err
	}
	return arr, nil
}

func (p *parser) object() (any, error) {
	obj := &object{}
	var seen keySet
	p.at = append(p.at, step{})
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // the decoder only yields string keys
		p.at[len(p.at)-1].key = key
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if !seen.add(key) {
			p.problem(1, fmt.Sprintf("key %q appears twice in one object", key))
		}
		obj.members = append(obj.members, member{key: key, value: v})
	}
	p.at = p.at[:len(p.at)-1]
	if _, err := p.dec.Token(); err != nil { // '}'
		return nil, err
	}
	if !seen.has(Key) {
		return obj, nil
	}
	return p.reference(obj), nil
}

// keySet is the keys of one object. Most objects have a few keys, for
// which a slice beats a map; a map takes over past a dozen.
type keySet struct {
	few  []string
	many map[string]bool
}

// add adds key and reports whether it was new.
func (s *keySet) add(key string) bool {
	if s.has(key) {
		return false
	}
	if s.many == nil && len(s.few) < 12 {
		s.few = append(s.few, key)
		return true
	}
	if s.many == nil {
		s.many = make(map[string]bool, 2*len(s.few))
		for _, k := range s.few {
			s.many[k] = true
		}
	}
	s.many[key] = true
	return true
}

func (s *keySet) has(key string) bool {
	if s.many != nil {
		return s.many[key]
	}
	for _, k := range s.few {
		if k == key {
			return true
		}
	}
	return false
}

// problem records a malformed reference or object; up counts the steps of
// p.at that lie inside it.
func (p *parser) problem(up int, reason string) {
	p.problems = append(p.problems, Problem{Path: p.pathAbove(up), Reason: reason})
}

// reference checks an object holding "$secretRef", which has just been
// read (p.at is its path), and records it. On a problem it returns the
// object unchanged; Parse then fails anyway.
func (p *parser) reference(obj *object) any {
	bad := func(reason string) any {
		p.problem(0, reason)
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
		ref               Reference
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
	ref.Path = p.path(noBudget)
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

// Budgets for path strings: a path shown for the depth limit is truncated,
// for it may run to MaxDepth steps of long keys.
const (
	noBudget        = -1
	depthPathBudget = 80
)

// path is the JSON path of the value being parsed.
func (p *parser) path(budget int) string { return pathOf(p.at, budget) }

// pathAbove is the path of the value up levels above the one being parsed.
func (p *parser) pathAbove(up int) string { return pathOf(p.at[:len(p.at)-up], noBudget) }

// pathOf writes steps as a JSON path: .key for identifier-like keys,
// ["key"] otherwise, so every path is unambiguous. Past budget bytes (if
// not noBudget) it stops at a step boundary and ends with "…", which no
// step of a path can contain unquoted.
func pathOf(steps []step, budget int) string {
	var b strings.Builder
	size := 1
	for _, s := range steps {
		size += len(s.key) + 4 // "[", "]" and quotes, or ".", or an index's brackets
	}
	if budget != noBudget {
		size = min(size, budget+8)
	}
	b.Grow(size)
	b.WriteByte('$')
	for _, s := range steps {
		mark := b.Len()
		switch {
		case s.inArray:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case isIdentifier(s.key):
			b.WriteByte('.')
			b.WriteString(s.key)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.key))
			b.WriteByte(']')
		}
		if budget != noBudget && b.Len() > budget {
			full := b.String()
			return full[:mark] + "…"
		}
	}
	return b.String()
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
