package secretsource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// node is a parsed JSON or YAML value with its object keys in file order:
// the order of a report follows the file, and a nested value written as
// JSON text keeps the order it was written in.
type node struct {
	kind kind
	keys []string // object
	vals []*node  // object values, list items
	text string   // scalar: the string, or a number's or bool's literal
	line int      // 1-based when known (YAML)
}

type kind int

const (
	kindObject kind = iota
	kindList
	kindString
	kindNumber
	kindBool
	kindNull
)

func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) isObject() bool { return n != nil && n.kind == kindObject }

// parseJSON reads one JSON value token by token: encoding/json keeps the
// last of two equal keys silently, and a duplicate is a question the
// migration must not answer by guessing.
func parseJSON(b []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	p := &jsonParser{dec: dec, src: b}
	root, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("not valid JSON: more text after the end of the top-level value (%s)", p.where())
	}
	return root, nil
}

type jsonParser struct {
	dec    *json.Decoder
	src    []byte
	values int
}

// where is the decoder's position as a line and column.
func (p *jsonParser) where() string {
	return position(p.src, int(p.dec.InputOffset()))
}

func position(src []byte, offset int) string {
	if offset > len(src) {
		offset = len(src)
	}
	before := src[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := offset - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// syntaxError turns a decoder error into one that holds no text of the
// file: encoding/json quotes the offending character, which may be a
// piece of a value.
func (p *jsonParser) syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// The decoder reports some offsets from where the value began,
		// others from where its scan stopped; the larger is the culprit.
		return fmt.Errorf("not valid JSON at %s", position(p.src, int(max(se.Offset, p.dec.InputOffset()))))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("not valid JSON: the text ends before the JSON does (a truncated file?)")
	}
	return fmt.Errorf("not valid JSON at %s", p.where())
}

func (p *jsonParser) value(path string, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: nested more than %d levels deep, which is not a file of secrets", orTop(path), maxDepth)
	}
	if p.values++; p.values > maxValues {
		return nil, tooManyValues()
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntaxError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return p.object(path, depth)
		case '[':
			return p.list(path, depth)
		}
		return nil, fmt.Errorf("not valid JSON at %s", p.where())
	case string:
		return &node{kind: kindString, text: t}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(t)}, nil
	case bool:
		return &node{kind: kindBool, text: strconv.FormatBool(t)}, nil
	case nil:
		return &node{kind: kindNull}, nil
	}
	return nil, fmt.Errorf("not valid JSON at %s", p.where())
}

func (p *jsonParser) object(path string, depth int) (*node, error) {
	n := &node{kind: kindObject}
	seen := map[string]bool{}
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not valid JSON at %s", p.where())
		}
		if seen[key] {
			return nil, fmt.Errorf("%s appears twice (the second at %s); keep one: which value the application used is not something to guess", join(path, key), p.where())
		}
		seen[key] = true
		v, err := p.value(join(path, key), depth+1)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, v)
	}
	if _, err := p.dec.Token(); err != nil { // the closing brace
		return nil, p.syntaxError(err)
	}
	return n, nil
}

func (p *jsonParser) list(path string, depth int) (*node, error) {
	n := &node{kind: kindList}
	for i := 0; p.dec.More(); i++ {
		v, err := p.value(index(path, i), depth+1)
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.syntaxError(err)
	}
	return n, nil
}

// parseYAML reads one YAML document into a node tree. Aliases are refused
// rather than expanded: a secrets file has no use for them, and expanding
// them is how a few hundred bytes become gigabytes (the "billion laughs").
// The YAML library only records an alias when decoding into a yaml.Node,
// so refusing it here costs nothing.
func parseYAML(b []byte) (*node, error) {
	if yamlValueBound(b) > maxValues {
		return nil, tooManyValues()
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, errors.New("the file holds no YAML document")
		}
		return nil, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, fmt.Errorf("the file holds more than one YAML document (line %d starts another); import one at a time", more.Line)
	}
	if len(doc.Content) != 1 {
		return nil, errors.New("the file holds no YAML document")
	}
	return fromYAML(doc.Content[0], "", 0)
}

func fromYAML(y *yaml.Node, path string, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s (line %d): nested more than %d levels deep, which is not a file of secrets", orTop(path), y.Line, maxDepth)
	}
	if y.Anchor != "" || y.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("%s (line %d): YAML anchors and aliases (&name, *name, <<) are not read; write each value out", orTop(path), y.Line)
	}
	switch y.Kind {
	case yaml.MappingNode:
		n := &node{kind: kindObject, line: y.Line}
		seen := map[string]int{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Anchor != "" {
				return nil, fmt.Errorf("%s (line %d): a key must be a plain string", orTop(path), k.Line)
			}
			if k.Tag == "!!merge" {
				return nil, fmt.Errorf("%s (line %d): YAML anchors and aliases (&name, *name, <<) are not read; write each value out", orTop(path), k.Line)
			}
			if first, dup := seen[k.Value]; dup {
				return nil, fmt.Errorf("%s appears twice (lines %d and %d); keep one: which value the application used is not something to guess", join(path, k.Value), first, k.Line)
			}
			seen[k.Value] = k.Line
			child, err := fromYAML(v, join(path, k.Value), depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.Value)
			n.vals = append(n.vals, child)
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kindList, line: y.Line}
		for i, item := range y.Content {
			child, err := fromYAML(item, index(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, child)
		}
		return n, nil
	case yaml.ScalarNode:
		n := &node{kind: kindString, text: y.Value, line: y.Line}
		switch y.ShortTag() {
		case "!!null":
			n.kind = kindNull
		case "!!int", "!!float":
			n.kind = kindNumber
		case "!!bool":
			n.kind = kindBool
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s (line %d): not a value this command reads", orTop(path), y.Line)
}

// writeJSON writes n as JSON text, object keys in file order. A YAML
// number or boolean that is not a JSON literal (0x1F, yes) is written as
// the string it was.
func writeJSON(buf *bytes.Buffer, n *node) {
	switch n.kind {
	case kindObject:
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, k)
			buf.WriteByte(':')
			writeJSON(buf, n.vals[i])
		}
		buf.WriteByte('}')
	case kindList:
		buf.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, v)
		}
		buf.WriteByte(']')
	case kindNull:
		buf.WriteString("null")
	case kindNumber, kindBool:
		var probe any
		if json.Unmarshal([]byte(n.text), &probe) == nil && probe != nil {
			if _, isString := probe.(string); !isString {
				buf.WriteString(n.text)
				return
			}
		}
		writeJSONString(buf, n.text)
	default:
		writeJSONString(buf, n.text)
	}
}

func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// join and index build key paths as jq writes them: a.b, a["x.y"], a[0].
func join(path, key string) string {
	if isPlainKey(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

func isPlainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}
