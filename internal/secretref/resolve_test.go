package secretref

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// db is a Lookup over a fixed map that counts its calls.
type db struct {
	values map[string]string
	calls  int
	asked  []string
}

func (d *db) lookup(names []string) ([][]byte, error) {
	d.calls++
	d.asked = append([]string(nil), names...)
	out := make([][]byte, len(names))
	for i, n := range names {
		if v, ok := d.values[n]; ok {
			out[i] = []byte(v)
		}
	}
	return out, nil
}

// sources is a result's sources by name.
func sources(res Result) map[string]string {
	m := make(map[string]string, len(res.References))
	for i, n := range res.References {
		m[n] = res.Sources[i]
	}
	return m
}

func noEnv(string) (string, bool) { return "", false }

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
}

func resolve(t *testing.T, doc string, d *db, opts Options) Result {
	t.Helper()
	opts.Lookup = d.lookup
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	res, err := Resolve(context.Background(), []byte(doc), opts)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return res
}

func TestReferencesReplacedInNestedObjectsAndArrays(t *testing.T) {
	d := &db{values: map[string]string{"OPENAI_API_KEY": "sk-1", "ANTHROPIC_API_KEY": "sk-2", "WEBHOOK": "wh"}}
	doc := `{
	  "providers": [
	    {"name": "openai", "apiKey": {"$secretRef": {"name": "OPENAI_API_KEY"}}},
	    {"name": "anthropic", "apiKey": {"$secretRef": {"name": "ANTHROPIC_API_KEY"}}}
	  ],
	  "hooks": {"deep": {"deeper": [[{"$secretRef": {"name": "WEBHOOK"}}]]}},
	  "again": {"$secretRef": {"name": "OPENAI_API_KEY"}}
	}`
	res := resolve(t, doc, d, Options{})
	want := `{"providers":[{"name":"openai","apiKey":"sk-1"},{"name":"anthropic","apiKey":"sk-2"}],"hooks":{"deep":{"deeper":[["wh"]]}},"again":"sk-1"}`
	if string(res.Rendered) != want {
		t.Errorf("rendered\n got %s\nwant %s", res.Rendered, want)
	}
	if want := []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "WEBHOOK"}; !reflect.DeepEqual(res.References, want) {
		t.Errorf("references = %v, want %v", res.References, want)
	}
	for _, n := range res.References {
		if sourceOf(res, n) != SourceDatabase {
			t.Errorf("source of %s = %q, want database", n, sourceOf(res, n))
		}
	}
	if d.calls != 1 || !reflect.DeepEqual(d.asked, res.References) {
		t.Errorf("Lookup called %d times with %v; want once with the distinct sorted names", d.calls, d.asked)
	}
}

func TestReferencePathsNameWhereTheValueGoes(t *testing.T) {
	doc, err := Parse([]byte(`{"providers":[{"apiKey":{"$secretRef":{"name":"A"}}}],"odd key":{"x-y":{"$secretRef":{"name":"B"}}},"":[{"$secretRef":{"name":"C"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range doc.References() {
		paths = append(paths, r.Name+"="+r.Path)
	}
	want := []string{`A=$.providers[0].apiKey`, `B=$["odd key"]["x-y"]`, `C=$[""][0]`}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
}

func TestRootReferenceRendersAsString(t *testing.T) {
	res := resolve(t, `{"$secretRef":{"name":"A"}}`, &db{values: map[string]string{"A": "v"}}, Options{})
	if string(res.Rendered) != `"v"` {
		t.Errorf("rendered %s", res.Rendered)
	}
}

func TestNumbersKeyOrderAndTextKeptExactly(t *testing.T) {
	doc := `{"z": 12345678901234567890123, "a": 1.000000000000000000001, "m": -0.0e+10, "t": true, "f": false, "n": null,
	  "html": "<b>&amp;</b>", "unicode": "é\u00e9\ud83d\ude00", "empty": {}, "none": [], "k": {"$secretRef": {"name": "K"}}}`
	res := resolve(t, doc, &db{values: map[string]string{"K": "a\"quote\\ and <tag> & \n newline"}}, Options{})
	want := `{"z":12345678901234567890123,"a":1.000000000000000000001,"m":-0.0e+10,"t":true,"f":false,"n":null,` +
		`"html":"<b>&amp;</b>","unicode":"éé😀","empty":{},"none":[],"k":"a\"quote\\ and <tag> & \n newline"}`
	if string(res.Rendered) != want {
		t.Errorf("rendered\n got %s\nwant %s", res.Rendered, want)
	}
}

func TestDeeplyNestedReferenceResolves(t *testing.T) {
	// 127 times an object and an array, then the reference's two objects:
	// MaxDepth levels, the deepest document allowed.
	const depth = (MaxDepth - 2) / 2
	doc := strings.Repeat(`{"a":[`, depth) + `{"$secretRef":{"name":"DEEP"}}` + strings.Repeat(`]}`, depth)
	res := resolve(t, doc, &db{values: map[string]string{"DEEP": "v"}}, Options{})
	want := strings.Repeat(`{"a":[`, depth) + `"v"` + strings.Repeat(`]}`, depth)
	if string(res.Rendered) != want {
		t.Error("deeply nested document rendered wrongly")
	}
	parsed, _ := Parse([]byte(doc))
	if p := parsed.References()[0].Path; p != "$"+strings.Repeat(".a[0]", depth) {
		t.Errorf("path of the deep reference = %.40s...", p)
	}
}

func TestTenThousandReferencesLookedUpInOneCall(t *testing.T) {
	const n = 10000
	values := map[string]string{}
	var b strings.Builder
	b.WriteString(`{"services":[`)
	for i := range n {
		name := fmt.Sprintf("SECRET_%05d", i)
		values[name] = "value-" + name
		if i > 0 {
			b.WriteByte(',')
		}
		// Every name twice: distinct names are what Lookup receives.
		fmt.Fprintf(&b, `{"key":{"$secretRef":{"name":%q}},"same":{"$secretRef":{"name":%q}}}`, name, name)
	}
	b.WriteString(`]}`)
	d := &db{values: values}
	res := resolve(t, b.String(), d, Options{})
	if d.calls != 1 {
		t.Fatalf("Lookup called %d times for %d references, want 1", d.calls, 2*n)
	}
	if len(d.asked) != n || len(res.References) != n || len(res.Sources) != n {
		t.Fatalf("Lookup got %d names, %d references, %d sources; want %d each", len(d.asked), len(res.References), len(res.Sources), n)
	}
	if !strings.Contains(string(res.Rendered), `{"key":"value-SECRET_09999","same":"value-SECRET_09999"}`) {
		t.Error("last reference not rendered")
	}
}

func TestDocumentWithoutReferencesNeverCallsLookup(t *testing.T) {
	d := &db{}
	res := resolve(t, `{"a":[1,2,{"b":"c"}]}`, d, Options{})
	if d.calls != 0 || len(res.References) != 0 || string(res.Rendered) != `{"a":[1,2,{"b":"c"}]}` {
		t.Errorf("calls=%d references=%v rendered=%s", d.calls, res.References, res.Rendered)
	}
}

func TestDatabaseThenEnvironmentThenDefault(t *testing.T) {
	doc := `{"db":{"$secretRef":{"name":"IN_DB","default":"d1"}},
	         "env":{"$secretRef":{"name":"IN_ENV","default":"d2"}},
	         "def":{"$secretRef":{"name":"NOWHERE","default":"d3"}}}`
	d := &db{values: map[string]string{"IN_DB": "from-db"}}
	getenv := env(map[string]string{"IN_DB": "env-loses", "IN_ENV": "from-env"})

	res := resolve(t, doc, d, Options{EnvFallback: true, Getenv: getenv})
	if want := `{"db":"from-db","env":"from-env","def":"d3"}`; string(res.Rendered) != want {
		t.Errorf("with env fallback: rendered %s, want %s", res.Rendered, want)
	}
	want := map[string]string{"IN_DB": SourceDatabase, "IN_ENV": SourceEnvironment, "NOWHERE": SourceDefault}
	if !reflect.DeepEqual(sources(res), want) {
		t.Errorf("sources = %v, want %v", sources(res), want)
	}

	res = resolve(t, doc, d, Options{EnvFallback: false, Getenv: getenv})
	if want := `{"db":"from-db","env":"d2","def":"d3"}`; string(res.Rendered) != want {
		t.Errorf("without env fallback the environment must be ignored: rendered %s, want %s", res.Rendered, want)
	}
	if sourceOf(res, "IN_ENV") != SourceDefault {
		t.Errorf("source of IN_ENV without env fallback = %q, want default", sourceOf(res, "IN_ENV"))
	}
}

func TestEmptyEnvironmentVariableCountsAsSet(t *testing.T) {
	res := resolve(t, `[{"$secretRef":{"name":"E","default":"d"}}]`, &db{}, Options{EnvFallback: true, Getenv: env(map[string]string{"E": ""})})
	if string(res.Rendered) != `[""]` || sourceOf(res, "E") != SourceEnvironment {
		t.Errorf("rendered %s, source %q", res.Rendered, sourceOf(res, "E"))
	}
}

func TestEachReferenceUsesItsOwnDefault(t *testing.T) {
	res := resolve(t, `[{"$secretRef":{"name":"X","default":"a"}},{"$secretRef":{"name":"X","default":"b"}}]`, &db{}, Options{})
	if string(res.Rendered) != `["a","b"]` {
		t.Errorf("rendered %s", res.Rendered)
	}
}

func TestMissingSecretsListedTogetherWithPaths(t *testing.T) {
	doc := `{"a":{"$secretRef":{"name":"ZED"}},"list":[{"$secretRef":{"name":"ALPHA"}},{"$secretRef":{"name":"ZED"}}],
	         "ok":{"$secretRef":{"name":"PRESENT"}},"fallback":{"$secretRef":{"name":"ALPHA","default":"x"}}}`
	d := &db{values: map[string]string{"PRESENT": "canary-value-123"}}
	_, err := Resolve(context.Background(), []byte(doc), Options{Lookup: d.lookup, Getenv: noEnv})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T), want *MissingError", err, err)
	}
	want := []MissingSecret{{Name: "ALPHA", Paths: []string{"$.list[0]"}}, {Name: "ZED", Paths: []string{"$.a", "$.list[1]"}}}
	if !reflect.DeepEqual(me.Missing, want) {
		t.Errorf("missing = %+v, want %+v", me.Missing, want)
	}
	msg := err.Error()
	wantMsg := `2 referenced secrets not found in the database and without a default: "ALPHA" at $.list[0]; "ZED" at $.a, $.list[1]; ` +
		`create them, give the references a "default", or enable the environment fallback`
	if msg != wantMsg {
		t.Errorf("message\n got %s\nwant %s", msg, wantMsg)
	}
	if strings.Contains(msg, "canary-value-123") || strings.Contains(msg, "PRESENT") {
		t.Errorf("missing-secrets error mentions a found secret: %s", msg)
	}
	if d.calls != 1 {
		t.Errorf("Lookup called %d times", d.calls)
	}
}

func TestMissingErrorWithEnvFallbackSaysEnvironmentWasTried(t *testing.T) {
	_, err := Resolve(context.Background(), []byte(`{"a":{"$secretRef":{"name":"GONE"}}}`), Options{Lookup: (&db{}).lookup, EnvFallback: true, Getenv: noEnv})
	want := `1 referenced secret not found in the database or the environment and without a default: "GONE" at $.a; ` +
		`create them, set environment variables of the same names, or give the references a "default"`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestMalformedReferencesNamedByPath(t *testing.T) {
	cases := []struct {
		name, doc, path, reason string
	}{
		{"no name", `{"x":{"$secretRef":{}}}`, "$.x", `"$secretRef" has no "name"`},
		{"only a default", `{"x":[{"$secretRef":{"default":"d"}}]}`, "$.x[0]", `"$secretRef" has no "name"`},
		{"number name", `{"x":{"$secretRef":{"name":42}}}`, "$.x", `"$secretRef" name must be a string, found a number`},
		{"null name", `{"x":{"$secretRef":{"name":null}}}`, "$.x", `"$secretRef" name must be a string, found null`},
		{"empty name", `{"x":{"$secretRef":{"name":""}}}`, "$.x", `"$secretRef" name is empty`},
		{"object default", `{"x":{"$secretRef":{"name":"A","default":{}}}}`, "$.x", `"$secretRef" default must be a string, found an object`},
		{"unknown key", `{"x":{"$secretRef":{"name":"A","Name":"B"}}}`, "$.x", `unknown key "Name" in "$secretRef" (allowed: "name", "default")`},
		{"string instead of object", `{"x":{"$secretRef":"A"}}`, "$.x", `"$secretRef" must be an object, found a string`},
		{"array instead of object", `{"x":{"$secretRef":["A"]}}`, "$.x", `"$secretRef" must be an object, found an array`},
		{"sibling keys", `{"x":{"$secretRef":{"name":"A"},"comment":"c","y":1}}`, "$.x", `"$secretRef" must be the only key of its object, found also "comment", "y"`},
		{"nested reference", `{"x":{"$secretRef":{"$secretRef":{"name":"A"}}}}`, "$.x", `"$secretRef" must be an object, found a secret reference`},
		{"duplicate key", `{"x":{"a":1,"a":2}}`, "$.x", `key "a" appears twice in one object`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &db{}
			_, err := Resolve(context.Background(), []byte(c.doc), Options{Lookup: d.lookup, Getenv: noEnv})
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want *MalformedError", err, err)
			}
			if want := []Problem{{Path: c.path, Reason: c.reason}}; !reflect.DeepEqual(me.Problems, want) {
				t.Errorf("problems = %+v, want %+v", me.Problems, want)
			}
			if !strings.Contains(err.Error(), c.path+": "+c.reason) {
				t.Errorf("message %q lacks %q", err, c.path+": "+c.reason)
			}
			if d.calls != 0 {
				t.Error("Lookup called for a malformed document")
			}
		})
	}
}

func TestEveryMalformedReferenceReportedAtOnce(t *testing.T) {
	_, err := Parse([]byte(`{"a":{"$secretRef":{}},"b":[{"$secretRef":{"name":1}}],"c":{"$secretRef":{"name":"ok"}}}`))
	want := `2 malformed secret references (write {"$secretRef": {"name": "SECRET_NAME"}} with an optional string "default", alone in its object): ` +
		`$.a: "$secretRef" has no "name"; $.b[0]: "$secretRef" name must be a string, found a number`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestInvalidJSONReportsOffset(t *testing.T) {
	cases := map[string]string{
		`{"a": }`:   `config is not valid JSON at byte 6: invalid character '}' looking for beginning of value`,
		`{"a": 1`:   `config is not valid JSON at byte 7: unexpected end of the document`,
		`{"a":1} x`: `config is not valid JSON at byte 7: unexpected data after the end of the document`,
		``:          `config is not valid JSON at byte 0: unexpected end of the document`,
	}
	for doc, want := range cases {
		_, err := Parse([]byte(doc))
		var se *SyntaxError
		if !errors.As(err, &se) || err.Error() != want {
			t.Errorf("Parse(%q) = %v, want %s", doc, err, want)
		}
	}
}

func TestLookupErrorWrapped(t *testing.T) {
	boom := errors.New("database down")
	_, err := Resolve(context.Background(), []byte(`[{"$secretRef":{"name":"A"}}]`), Options{Lookup: func([]string) ([][]byte, error) { return nil, boom }})
	if !errors.Is(err, boom) || err.Error() != "look up 1 referenced secret(s): database down" {
		t.Errorf("error = %v", err)
	}
}

func TestNonUTF8SecretRefusedWithoutQuotingIt(t *testing.T) {
	d := &db{values: map[string]string{"BIN": "\xff\xfecanary"}}
	_, err := Resolve(context.Background(), []byte(`[{"$secretRef":{"name":"BIN"}}]`), Options{Lookup: d.lookup})
	var nt *NotTextError
	if !errors.As(err, &nt) || strings.Contains(err.Error(), "canary") {
		t.Errorf("error = %v", err)
	}
}

// Values are written as encoding/json writes a string without HTML
// escaping, whatever bytes they hold: escapes, control bytes, U+2028 and
// U+2029 (which JavaScript reads as line ends) escaped, the rest as is.
func TestValuesRenderedAsEncodingJSONWritesThem(t *testing.T) {
	for _, v := range []string{"plain", "<a & b>", "quote\" back\\slash", "\x00\x01\t\n\r\x1f\x7f", "é😀", "\u2028\u2029", "a\u2028b"} {
		res := resolve(t, `[{"$secretRef":{"name":"V"}}]`, &db{values: map[string]string{"V": v}}, Options{})
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode([]string{v}); err != nil {
			t.Fatal(err)
		}
		if got := string(res.Rendered) + "\n"; got != want.String() {
			t.Errorf("value %q rendered %s, want %s", v, got, want.String())
		}
	}
}

// Names out of order and repeated: each reference still gets its own
// name's value, and Lookup sees each name once, sorted.
func TestReferencesOutOfOrderGetTheirOwnValues(t *testing.T) {
	d := &db{values: map[string]string{"A": "a", "M": "m", "Z": "z"}}
	res := resolve(t, `{"z":{"$secretRef":{"name":"Z"}},"a":{"$secretRef":{"name":"A"}},"m":[{"$secretRef":{"name":"M"}},{"$secretRef":{"name":"Z"}}],"none":{"$secretRef":{"name":"B","default":"b"}}}`, d, Options{})
	if want := `{"z":"z","a":"a","m":["m","z"],"none":"b"}`; string(res.Rendered) != want {
		t.Errorf("rendered %s, want %s", res.Rendered, want)
	}
	if want := []string{"A", "B", "M", "Z"}; !reflect.DeepEqual(d.asked, want) || !reflect.DeepEqual(res.References, want) {
		t.Errorf("asked %q, references %q, want %q", d.asked, res.References, want)
	}
	if want := map[string]string{"A": SourceDatabase, "B": SourceDefault, "M": SourceDatabase, "Z": SourceDatabase}; !reflect.DeepEqual(sources(res), want) {
		t.Errorf("sources %v, want %v", sources(res), want)
	}
}

func TestLookupAnsweringTheWrongNumberOfValuesIsRefused(t *testing.T) {
	short := func(names []string) ([][]byte, error) { return make([][]byte, len(names)-1), nil }
	_, err := Resolve(context.Background(), []byte(`[{"$secretRef":{"name":"A"}},{"$secretRef":{"name":"B"}}]`), Options{Lookup: short})
	if err == nil || !strings.Contains(err.Error(), "answered 1 values for 2 names") {
		t.Errorf("error = %v", err)
	}
}

// sourceOf is where the value of the referenced name came from, or "" for
// a name the document does not reference.
func sourceOf(res Result, name string) string {
	if i, ok := slices.BinarySearch(res.References, name); ok {
		return res.Sources[i]
	}
	return ""
}
