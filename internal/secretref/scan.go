package secretref

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
)

// errNotScanned is the scanner giving up: the Decoder then reads the
// document again, and explains whatever is wrong with it.
var errNotScanned = errors.New("not read by the fast scanner")

// scanner reads a well-formed document with well-formed references
// straight into its Document, in one pass over the bytes: no token values,
// no tree, the rendered template written as it goes. It reads only that,
// and gives up (errNotScanned) at the first thing it does not expect (bad
// JSON, a repeated key, a malformed reference), so that every error
// message and offset stays the Decoder path's, which reads the document
// again. The depth limit it applies itself, as the parser does, so that a
// hostile document costs one parse of MaxDepth levels. Strings with
// escapes or non-ASCII bytes are decoded by encoding/json itself.
type scanner struct {
	data []byte
	// text is data as a string, for a document small enough to copy whole:
	// its keys and names are then slices of it, not a copy each.
	text string
	pos  int
	// at is the path of the value being read, as the parser's.
	at []step
	// keys holds the keys of the objects being read, outermost first: an
	// object checks its own for repeats when it ends.
	keys []string
	refs []Reference
	tmpl template
}

// copiedWhole is the size up to which a document is copied into one
// string, from which every key and name is sliced. A bigger one is rarely a
// config; one deeper than MaxDepth must not cost a copy of itself.
const copiedWhole = 4 << 20

// scanDocument reads doc with a scanner: the Document, a *DepthError, or
// errNotScanned.
func scanDocument(doc []byte) (*Document, error) {
	// The template is about as long as the document; a document too deep to
	// read must not cost its length in memory, hence the cap.
	s := &scanner{data: doc, tmpl: template{text: make([]byte, 0, min(len(doc), 256<<10))}}
	if len(doc) <= copiedWhole {
		s.text = string(doc)
	}
	if refs := bytes.Count(doc, []byte(Key)); refs > 0 {
		s.refs, s.tmpl.holes = make([]Reference, 0, refs), make([]int, 0, refs)
	}
	if err := s.value(); err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return nil, errNotScanned
	}
	if len(s.refs) == 0 {
		// "$secretRef" only as text: no reference, as the parser has it.
		s.refs, s.tmpl.holes = nil, nil
	}
	return &Document{refs: s.refs, tmpl: s.tmpl}, nil
}

func (s *scanner) value() error {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return errNotScanned
	}
	switch c := s.data[s.pos]; {
	case c == '{' || c == '[':
		if len(s.at) >= MaxDepth {
			return &DepthError{Offset: int64(s.pos), Path: pathOf(s.at, depthPathBudget)}
		}
		if c == '{' {
			return s.object()
		}
		return s.array()
	case c == '"':
		start, end, plain := s.stringSpan()
		switch {
		case end < 0:
			return errNotScanned
		case plain:
			// A plain string is its own encoding.
			s.tmpl.text = append(s.tmpl.text, s.data[start:end]...)
		default:
			str, err := decodeString(s.data[start:end])
			if err != nil {
				return err
			}
			s.tmpl.text = appendString(s.tmpl.text, str)
		}
		return nil
	case c == '-' || '0' <= c && c <= '9':
		start := s.pos
		if !s.number() {
			return errNotScanned
		}
		s.tmpl.text = append(s.tmpl.text, s.data[start:s.pos]...) // the digits as written
		return nil
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
			s.pos += len(lit)
			s.tmpl.text = append(s.tmpl.text, lit...)
			return nil
		}
	}
	return errNotScanned
}

func (s *scanner) array() error {
	s.pos++ // '['
	s.tmpl.text = append(s.tmpl.text, '[')
	s.at = append(s.at, step{inArray: true})
	top := len(s.at) - 1
	if s.skipSpace(); s.peek(']') {
		s.pos++
	} else {
		for i := 0; ; i++ {
			s.at[top].index = i
			if err := s.value(); err != nil {
				return err
			}
			end, err := s.separator(']')
			if err != nil {
				return err
			}
			if end {
				break
			}
			s.tmpl.text = append(s.tmpl.text, ',')
		}
	}
	s.at = s.at[:top]
	s.tmpl.text = append(s.tmpl.text, ']')
	return nil
}

func (s *scanner) object() error {
	s.pos++ // '{'
	s.at = append(s.at, step{})
	top := len(s.at) - 1
	if s.skipSpace(); s.peek('}') {
		s.pos++
		s.at = s.at[:top]
		s.tmpl.text = append(s.tmpl.text, "{}"...)
		return nil
	}
	key, err := s.key()
	if err != nil {
		return err
	}
	if key == Key {
		if err := s.reference(); err != nil {
			return err
		}
		s.at = s.at[:top]
		return nil
	}
	s.tmpl.text = append(s.tmpl.text, '{')
	firstKey := len(s.keys)
	for {
		if key == Key {
			return errNotScanned // the parser names the problem
		}
		s.keys = append(s.keys, key)
		s.at[top].key = key
		s.tmpl.text = appendString(s.tmpl.text, key)
		s.tmpl.text = append(s.tmpl.text, ':')
		if err := s.value(); err != nil {
			return err
		}
		end, err := s.separator('}')
		if err != nil {
			return err
		}
		if end {
			break
		}
		s.tmpl.text = append(s.tmpl.text, ',')
		if key, err = s.key(); err != nil {
			return err
		}
	}
	if repeated(s.keys[firstKey:]) {
		return errNotScanned // the parser names the key
	}
	s.keys = s.keys[:firstKey]
	s.at = s.at[:top]
	s.tmpl.text = append(s.tmpl.text, '}')
	return nil
}

// repeated reports whether keys holds a key twice; it may reorder keys.
// Sorting beats a set for the one big object of a generated config (and
// costs next to nothing when its keys come sorted); a few keys are
// compared pairwise.
func repeated(keys []string) bool {
	if len(keys) <= 8 {
		for i, k := range keys {
			if slices.Contains(keys[:i], k) {
				return true
			}
		}
		return false
	}
	slices.Sort(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			return true
		}
	}
	return false
}

// reference reads, after the key "$secretRef" of an object whose first key
// it is, the rest of a well-formed reference: an object of a non-empty
// string "name" and an optional string "default", then the end of the
// enclosing object. The reference's value goes where the object was.
func (s *scanner) reference() error {
	top := len(s.at) - 1
	s.at[top].key = Key
	if s.skipSpace(); !s.peek('{') {
		return errNotScanned
	}
	if len(s.at) >= MaxDepth {
		return &DepthError{Offset: int64(s.pos), Path: pathOf(s.at, depthPathBudget)}
	}
	s.pos++
	var (
		ref                 Reference
		hasName, hasDefault bool
	)
	for {
		key, err := s.key()
		if err != nil {
			return err
		}
		if s.skipSpace(); !s.peek('"') {
			return errNotScanned
		}
		value, err := s.string()
		if err != nil {
			return err
		}
		switch {
		case key == "name" && !hasName && value != "":
			ref.Name, hasName = value, true
		case key == "default" && !hasDefault:
			def := value
			ref.Default, hasDefault = &def, true
		default:
			return errNotScanned
		}
		end, err := s.separator('}')
		if err != nil {
			return err
		}
		if end {
			break
		}
	}
	if s.skipSpace(); !hasName || !s.peek('}') {
		return errNotScanned
	}
	s.pos++
	ref.Path = pathOf(s.at[:top], noBudget)
	s.refs = append(s.refs, ref)
	s.tmpl.holes = append(s.tmpl.holes, len(s.tmpl.text))
	return nil
}

// separator steps past what follows a member or an element: end is true
// after the closing byte, false after a comma; anything else is not a
// well-formed config.
func (s *scanner) separator(closing byte) (end bool, err error) {
	s.skipSpace()
	switch {
	case s.peek(closing):
		s.pos++
		return true, nil
	case s.peek(','):
		s.pos++
		return false, nil
	}
	return false, errNotScanned
}

// key reads an object key and the colon after it.
func (s *scanner) key() (string, error) {
	if s.skipSpace(); !s.peek('"') {
		return "", errNotScanned
	}
	key, err := s.string()
	if err != nil {
		return "", err
	}
	if s.skipSpace(); !s.peek(':') {
		return "", errNotScanned
	}
	s.pos++
	return key, nil
}

func (s *scanner) peek(c byte) bool { return s.pos < len(s.data) && s.data[s.pos] == c }

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// string reads the string literal at s.pos.
func (s *scanner) string() (string, error) {
	start, end, plain := s.stringSpan()
	switch {
	case end < 0:
		return "", errNotScanned
	case plain:
		text := s.data[start+1 : end-1]
		// The keys of every reference, without a copy each.
		for _, known := range [...]string{Key, "name", "default"} {
			if string(text) == known {
				return known, nil
			}
		}
		if s.text != "" {
			return s.text[start+1 : end-1], nil
		}
		return string(text), nil
	}
	return decodeString(s.data[start:end])
}

// stringSpan moves past the string literal at s.pos and returns its
// bounds, quotes included (end -1 when it is not closed), and whether it
// is plain: printable ASCII without escapes, whose text is what it reads.
func (s *scanner) stringSpan() (start, end int, plain bool) {
	start, plain = s.pos, true
	for i := start + 1; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			return start, i + 1, plain
		case c == '\\':
			plain = false
			i++ // the escaped byte, which may be a quote
		case c < 0x20 || c >= 0x7f:
			plain = false
		}
	}
	return start, -1, false
}

// decodeString decodes a string literal with escapes, control or
// non-ASCII bytes: encoding/json knows every rule (and replaces invalid
// UTF-8 as the Decoder does).
func decodeString(literal []byte) (string, error) {
	var str string
	if err := json.Unmarshal(literal, &str); err != nil {
		return "", errNotScanned
	}
	return str, nil
}

// number moves past the number at s.pos and reports whether it is one:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	i := s.pos
	if s.data[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s.data) && '0' <= s.data[i] && s.data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s.data) && s.data[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s.data) && s.data[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	s.pos = i
	return true
}
