package secretref

import (
	"encoding/json"
	"errors"
	"io"
)

// tokenSource is what the parser reads tokens from: encoding/json's
// Decoder, or scanner for the documents it can read.
type tokenSource interface {
	Token() (json.Token, error)
	More() bool
	InputOffset() int64
}

// errNotScanned is scanner giving up: the Decoder then reads the document
// again, and explains whatever is wrong with it.
var errNotScanned = errors.New("not read by the fast scanner")

// scanner yields, for a valid JSON document, the tokens json.Decoder (with
// UseNumber) yields, several times faster: the Decoder builds and discards
// an error value to find the end of every scalar. It reads only valid
// JSON, and gives up (errNotScanned) at the first thing it does not expect,
// so that error messages and offsets stay the Decoder's. Strings with
// escapes or non-ASCII bytes are decoded by encoding/json itself.
type scanner struct {
	data  []byte
	pos   int
	open  []byte // the enclosing '{' and '[', innermost last
	state scanState
}

type scanState uint8

const (
	wantValue     scanState = iota // a value: the document, after ':' or an array's ','
	wantFirstElem                  // a value or ']', after '['
	wantFirstKey                   // a key or '}', after '{'
	wantKey                        // a key, after an object's ','
	wantColon                      // ':', after a key
	wantNext                       // ',' or the closing bracket, after a value
	wantEnd                        // nothing but space, after the document
)

func newScanner(doc []byte) *scanner { return &scanner{data: doc} }

func (s *scanner) InputOffset() int64 { return int64(s.pos) }

// More reports, as json.Decoder's More does, whether the next token is not
// a closing bracket.
func (s *scanner) More() bool {
	s.skipSpace()
	return s.pos < len(s.data) && s.data[s.pos] != ']' && s.data[s.pos] != '}'
}

func (s *scanner) Token() (json.Token, error) {
	for {
		s.skipSpace()
		if s.pos >= len(s.data) {
			if s.state == wantEnd {
				return nil, io.EOF
			}
			return nil, errNotScanned
		}
		c := s.data[s.pos]
		switch s.state {
		case wantFirstElem, wantValue:
			if s.state == wantFirstElem && c == ']' {
				return s.close(c)
			}
			return s.value(c)
		case wantFirstKey, wantKey:
			if s.state == wantFirstKey && c == '}' {
				return s.close(c)
			}
			if c != '"' {
				return nil, errNotScanned
			}
			key, err := s.string()
			s.state = wantColon
			return key, err
		case wantColon:
			if c != ':' {
				return nil, errNotScanned
			}
			s.pos++
			s.state = wantValue
		case wantNext:
			top := s.open[len(s.open)-1]
			switch {
			case c == ',' && top == '{':
				s.pos++
				s.state = wantKey
			case c == ',':
				s.pos++
				s.state = wantValue
			case c == '}' && top == '{', c == ']' && top == '[':
				return s.close(c)
			default:
				return nil, errNotScanned
			}
		default: // wantEnd: data after the document
			return nil, errNotScanned
		}
	}
}

// value reads the value starting with c.
func (s *scanner) value(c byte) (json.Token, error) {
	switch {
	case c == '{' || c == '[':
		s.pos++
		s.open = append(s.open, c)
		s.state = wantFirstKey
		if c == '[' {
			s.state = wantFirstElem
		}
		return json.Delim(c), nil
	case c == '"':
		str, err := s.string()
		s.afterValue()
		return str, err
	case c == '-' || '0' <= c && c <= '9':
		n, err := s.number()
		s.afterValue()
		return n, err
	}
	for _, lit := range [...]struct {
		text string
		tok  json.Token
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(s.data)-s.pos >= len(lit.text) && string(s.data[s.pos:s.pos+len(lit.text)]) == lit.text {
			s.pos += len(lit.text)
			s.afterValue()
			return lit.tok, nil
		}
	}
	return nil, errNotScanned
}

func (s *scanner) close(c byte) (json.Token, error) {
	s.pos++
	s.open = s.open[:len(s.open)-1]
	s.afterValue()
	return json.Delim(c), nil
}

func (s *scanner) afterValue() {
	s.state = wantNext
	if len(s.open) == 0 {
		s.state = wantEnd
	}
}

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
	start := s.pos
	plain := true
	for i := start + 1; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			if plain {
				return string(s.data[start+1 : i]), nil
			}
			// Escapes, control or non-ASCII bytes: encoding/json knows
			// every rule (and replaces invalid UTF-8 as the Decoder does).
			var str string
			if err := json.Unmarshal(s.data[start:s.pos], &str); err != nil {
				return "", errNotScanned
			}
			return str, nil
		case c == '\\':
			plain = false
			i++ // the escaped byte, which may be a quote
		case c < 0x20 || c >= 0x80:
			plain = false
		}
	}
	return "", errNotScanned
}

// number reads the number at s.pos: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() (json.Number, error) {
	start, i := s.pos, s.pos
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
		return "", errNotScanned
	}
	if i < len(s.data) && s.data[i] == '.' {
		i++
		if digits() == 0 {
			return "", errNotScanned
		}
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return "", errNotScanned
		}
	}
	s.pos = i
	return json.Number(s.data[start:i]), nil
}
