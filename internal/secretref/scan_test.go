package secretref

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzScannerAgreesWithDecoder holds the fast scanner to the parse by
// encoding/json's Decoder: whatever document it reads, or stops at the
// depth limit, the Decoder path reads the same way, to the same references
// and the same rendering.
func FuzzScannerAgreesWithDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"providers":[{"name":"openai","apiKey":{"$secretRef":{"name":"OPENAI_API_KEY"}}}],"n":-1.50e+3,"t":true,"f":false,"z":null}`,
		`{"$secretRef":{"name":"A","default":"d"}}`, `{"text":"$secretRef"}`, `[]`, `{}`, `[[],{}]`, ` "x" `, `0`, `-0.0E-0`, `01`, `1.`, `1e`, `-`,
		`{"a":"\u00e9\"\\"}`, "{\"a\":\"caf\xc3\xa9\"}", "[\"\xff\"]", `["a",]`, `{"a":1,}`, `{"a" 1}`, `{,}`, `[1 2]`, `tru`, `nul`, `{"a":1}x`,
		strings.Repeat("[", MaxDepth+1), strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		fast, fastErr := scanDocument(doc)
		if errors.Is(fastErr, errNotScanned) {
			return // the Decoder reads it instead
		}
		slow, slowErr := parseTokens(doc)
		if !reflect.DeepEqual(fastErr, slowErr) {
			t.Fatalf("%q: scanner error %v, Decoder error %v", doc, fastErr, slowErr)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: scanner read %#v, Decoder %#v", doc, fast, slow)
		}
	})
}

// The scanner gives up, and the Decoder explains, on anything but JSON.
func TestScannerGivesUpOnInvalidJSON(t *testing.T) {
	for _, doc := range []string{``, `{`, `[1 2]`, `{"a" 1}`, `01`, `1.`, `-`, `tru`, `{"a":1}x`, `["a",]`, "[\"\x01\"]"} {
		if _, err := scanDocument([]byte(doc)); err == nil {
			t.Errorf("scanner read %q", doc)
		}
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse read %q", doc)
		} else if !strings.Contains(err.Error(), "not valid JSON") {
			t.Errorf("Parse(%q): %v, want the Decoder's syntax error", doc, err)
		}
	}
}
