package secretsource

import "testing"

// A quote inside a plain scalar is text: the flow commas after it are
// still values, and the bound must count them, or a file of tiny values
// could slip past the limit into the YAML library.
func TestYAMLValueBoundCountsCommasAfterAQuoteInAPlainScalar(t *testing.T) {
	for _, doc := range []string{
		`{0 ",0,0,0,0,0,0,0,0,0}`,
		`{a - "b,c,d,e,f,g,h,i}`,
		`[x "y,1,2,3,4,5,6,7,8]`,
	} {
		if got := yamlValueBound([]byte(doc)); got < 10 {
			t.Errorf("yamlValueBound(%q) = %d, want at least 10", doc, got)
		}
	}
	// Where a value starts, a quote does open a quoted scalar, whose commas
	// are its text.
	if got := yamlValueBound([]byte(`{k: "a,b,c,d,e,f,g,h"}`)); got > 4 {
		t.Errorf("commas inside a quoted value counted: %d", got)
	}
}

// After a JSON-like key ("a", 'a', [a], {a}), ':' needs no space, and each
// pair in a flow sequence is a mapping of its own: three values a pair,
// which the bound must count at least half of.
func TestYAMLValueBoundCountsPairsAfterJSONLikeKeys(t *testing.T) {
	for _, doc := range []string{
		`["0":0,"0":0,"0":0,"0":0]`,
		`['a':1,'b':2,'c':3,'d':4]`,
		`[[a]:1,[b]:2,{c: d}:3,"e":4]`,
		`["k":"v, w","k":"v, w","k":"v, w","k":"v, w"]`,
	} {
		if got := yamlValueBound([]byte(doc)); got < 9 {
			t.Errorf("yamlValueBound(%q) = %d, want at least 9 of its 14 values", doc, got)
		}
	}
}
