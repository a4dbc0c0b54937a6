package secretref

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// canaryMark marks the values the fuzz target plants: string values of the
// document, secret values from the database and the environment. None may
// appear in an error.
const canaryMark = "zq7canary"

// FuzzParse: any input either parses into references that render to the
// document with each reference replaced, or fails with a typed error; no
// error ever holds a string value of the document nor a secret's value.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"providers":[{"name":"openai","apiKey":{"$secretRef":{"name":"OPENAI_API_KEY"}}}],"n":1.50,"t":true,"z":null}`,
		`{"$secretRef":{"name":"A","default":"d"}}`,
		`[{"$secretRef":{"name":"X","default":"a"}},{"$secretRef":{"name":"X"}},{"odd key":{"$secretRef":{"name":"Y"}}}]`,
		`{"x":{"$secretRef":{"name":"A"},"comment":"c"}}`,
		`{"x":{"$secretRef":{"name":"A","Name":"B"}}}`,
		`{"x":{"$secretRef":{"$secretRef":{"name":"A"}}}}`,
		`{"x":{"a":1,"a":2}}`,
		`{"x":{"$secretRef":{"name":1,"default":{}}}}`,
		`{"a": }`, `{"a":1} x`, ``, `"\ud800"`, "[\"\xff\"]",
		strings.Repeat("[", MaxDepth+1),
		strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
		`{"PGSECRETS_ROOT_KEYS":{"$secretRef":{"name":"PGSECRETS_ROOT_KEYS"}},"app":{"$secretRef":{"name":"APP_TOKEN"}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := Parse(doc)
		if err != nil {
			checkParseError(t, doc, err)
		} else {
			checkRendersWithReferencesReplaced(t, doc, d)
		}
		checkErrorsHoldNoValue(t, doc)
	})
}

func checkParseError(t *testing.T, doc []byte, err error) {
	var (
		syntax    *SyntaxError
		depth     *DepthError
		malformed *MalformedError
	)
	switch {
	case errors.As(err, &syntax):
		if json.Valid(doc) {
			t.Fatalf("valid JSON refused as invalid: %v", err)
		}
	case errors.As(err, &depth):
		if depth.Offset < 0 || depth.Offset >= int64(len(doc)) || (doc[depth.Offset] != '[' && doc[depth.Offset] != '{') {
			t.Fatalf("depth error at byte %d, which is no bracket", depth.Offset)
		}
	case errors.As(err, &malformed):
		if !json.Valid(doc) || len(malformed.Problems) == 0 {
			t.Fatalf("malformed error for invalid JSON or with no problem: %v", err)
		}
		for _, p := range malformed.Problems {
			if !strings.HasPrefix(p.Path, "$") || p.Reason == "" {
				t.Fatalf("problem without a path or a reason: %+v", p)
			}
		}
	default:
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// checkRendersWithReferencesReplaced resolves every name to "v:" + name and
// compares the output with the input decoded by encoding/json, each
// reference object replaced by its value.
func checkRendersWithReferencesReplaced(t *testing.T, doc []byte, d *Document) {
	if !json.Valid(doc) {
		t.Fatal("invalid JSON parsed")
	}
	names := d.Names()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("names not sorted and distinct: %q", names)
	}
	for _, r := range d.References() {
		if r.Name == "" || !strings.HasPrefix(r.Path, "$") || !slices.Contains(names, r.Name) {
			t.Fatalf("reference %+v: empty name, bad path or not among the names", r)
		}
	}
	lookup := func(asked []string) ([][]byte, error) {
		if !reflect.DeepEqual(asked, names) {
			t.Fatalf("Lookup asked for %q, want %q", asked, names)
		}
		out := make([][]byte, len(asked))
		for i, n := range asked {
			out[i] = []byte("v:" + n)
		}
		return out, nil
	}
	res, err := d.Resolve(context.Background(), Options{Lookup: lookup, Getenv: noEnv})
	if err != nil {
		t.Fatalf("every name in the database, yet: %v", err)
	}
	if !reflect.DeepEqual(res.References, names) {
		t.Fatalf("result references %q, want %q", res.References, names)
	}
	want := stdDecode(t, doc)
	if !reflect.DeepEqual(stdDecode(t, res.Rendered), replaceReferences(want)) {
		t.Fatalf("rendered %s is not the input with its references replaced", res.Rendered)
	}
	// The output has no references left and renders to itself.
	again, err := Resolve(context.Background(), res.Rendered, Options{Lookup: lookup, Getenv: noEnv})
	if err != nil || len(again.References) != 0 || !bytes.Equal(again.Rendered, res.Rendered) {
		t.Fatalf("rendering the output again: %v, %d references, same bytes %v", err, len(again.References), bytes.Equal(again.Rendered, res.Rendered))
	}
}

func stdDecode(t *testing.T, doc []byte) any {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return v
}

// replaceReferences replaces, in a value decoded by encoding/json, every
// {"$secretRef": {"name": N, ...}} by "v:" + N.
func replaceReferences(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if spec, ok := v[Key].(map[string]any); ok && len(v) == 1 {
			return "v:" + spec["name"].(string)
		}
		for k, e := range v {
			v[k] = replaceReferences(e)
		}
	case []any:
		for i, e := range v {
			v[i] = replaceReferences(e)
		}
	}
	return v
}

// checkErrorsHoldNoValue plants canaries in every string value of doc
// (other than names) and as every secret's value, then resolves it with and
// without the environment: the error, if any, holds none of them.
func checkErrorsHoldNoValue(t *testing.T, doc []byte) {
	if bytes.Contains(doc, []byte(canaryMark)) {
		return // a key or a name may hold it, and those are shown
	}
	planted, ok := plantCanaries(doc)
	if !ok {
		return
	}
	lookup := func(names []string) ([][]byte, error) {
		out := make([][]byte, len(names))
		for i := range names {
			if i%2 == 0 { // half found, half missing
				out[i] = []byte(canaryMark + "-db")
			}
		}
		return out, nil
	}
	getenv := func(string) (string, bool) { return canaryMark + "-env", true }
	for _, opts := range []Options{
		{Lookup: lookup, Getenv: getenv},
		{Lookup: lookup, Getenv: getenv, EnvFallback: true},
		{Lookup: lookup, Getenv: getenv, EnvFallback: true, EnvAllow: []string{"A*"}},
	} {
		if _, err := Resolve(context.Background(), planted, opts); err != nil && strings.Contains(err.Error(), canaryMark) {
			t.Fatalf("error holds a value: %v\ndocument: %s", err, planted)
		}
	}
}

// plantCanaries rewrites doc's first JSON value token by token, keeping its
// structure, keys, order and repeats, with every string value except a
// "name" member's replaced by a canary. ok is false when doc is not JSON,
// or when a key or name (which errors show) holds the canary.
func plantCanaries(doc []byte) (planted []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var (
		out bytes.Buffer
		// Per open container: is it an object, is its next token a key,
		// and is the last key read "name".
		inObject, wantKey, named []bool
	)
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		top := len(inObject) - 1
		isKey := top >= 0 && inObject[top] && wantKey[top]
		closing := tok == json.Delim('}') || tok == json.Delim(']')
		if last := out.Len() - 1; !closing && last >= 0 && !strings.ContainsRune("[{:", rune(out.Bytes()[last])) {
			out.WriteByte(',')
		}
		switch tok := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(tok))
			if !closing {
				inObject, wantKey, named = append(inObject, tok == '{'), append(wantKey, true), append(named, false)
				continue
			}
			inObject, wantKey, named = inObject[:top], wantKey[:top], named[:top]
		case string:
			keep := isKey || top >= 0 && inObject[top] && named[top]
			if keep && strings.Contains(tok, canaryMark) {
				return nil, false
			}
			s := tok
			if !keep {
				s = canaryMark
			}
			b, _ := json.Marshal(s)
			out.Write(b)
			if isKey {
				out.WriteByte(':')
				wantKey[top], named[top] = false, tok == "name"
				continue
			}
		default:
			b, _ := json.Marshal(tok)
			out.Write(b)
		}
		if top := len(inObject) - 1; top < 0 {
			return out.Bytes(), true // the first value is complete
		} else if inObject[top] {
			wantKey[top] = true
		}
	}
}
