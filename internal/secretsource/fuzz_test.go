package secretsource

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FuzzParseSecretsFile: any JSON or YAML content either fails with no
// entries, or gives entries that, written back as a flat JSON object under
// their names, read back the same, in the same order.
func FuzzParseSecretsFile(f *testing.F) {
	for _, seed := range []string{
		`{"A": "b", "N": 1.50, "T": true, "Z": null, "U": "h\u00e9 \"q\" $X\nl2"}`,
		`{"data": {"data": {"db.password": "x"}, "metadata": {"version": 2}}}`,
		`{"secret/": {"app": {"k": "v"}, "sub/": {"db": {"k": "w"}}}}`,
		`[{"key": "A", "value": "x", "type": "shared", "comment": "c"}, {"key": "B", "value": "y", "type": "personal"}]`,
		"apiVersion: v1\nkind: Secret\ndata:\n  A: eA==\nstringData:\n  B: |\n    l1\n    l2\n",
		"A: 1\nB:\n  c: [x, {d: e}]\n", "- - - [a, {b: c}]\n- ? x\n  : y\n", "K: |\n  l1, [x]\n  - y\nQ: 'a\n  ''b'', c'\n", `{"A": "x", "A": "y"}`, "a: &a [1]\nb: *a\n", `{"a":`,
	} {
		f.Add(seed, seed[0] != '{' && seed[0] != '[')
	}
	f.Fuzz(func(t *testing.T, content string, yamlSyntax bool) {
		format := JSON
		if yamlSyntax {
			format = YAML
		}
		if yamlSyntax {
			checkValueBound(t, content)
		}
		res, err := Parse([]byte(content), Options{Format: format, Nested: NestedAsJSON})
		if err != nil {
			if res != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		named, err := Rename(res.Entries, Rules{WithPath: true})
		if err != nil {
			return // a dump's path and key can meet another's: reported, not a parser bug
		}
		for _, e := range named {
			if !utf8.ValidString(e.Value) {
				// A Kubernetes Secret's data is base64 of any bytes, kept as
				// they are; JSON, written back, can carry text only.
				return
			}
		}
		var buf bytes.Buffer
		buf.WriteByte('{')
		names := map[string]bool{}
		for i, e := range named {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, e.Name)
			buf.WriteByte(':')
			writeJSONString(&buf, e.Value)
			names[e.Name] = true
		}
		buf.WriteByte('}')
		if names["kind"] && names["apiVersion"] || names["DOPPLER_PROJECT"] && names["DOPPLER_CONFIG"] && names["DOPPLER_ENVIRONMENT"] {
			return // written back, the names make another tool's shape
		}
		again, err := Parse(buf.Bytes(), Options{Format: JSON})
		if err != nil {
			t.Fatalf("written back, the entries do not parse: %v", err)
		}
		if len(again.Entries) != len(named) {
			t.Fatalf("%d entries written back, %d read", len(named), len(again.Entries))
		}
		for i, e := range again.Entries {
			if e.Key != named[i].Name || e.Value != named[i].Value {
				t.Fatalf("entry %d changed: %q=%q became %q=%q", i, named[i].Name, named[i].Value, e.Key, e.Value)
			}
		}
	})
}

// checkValueBound: whenever the YAML library reads a document, the cheap
// bound counted before parsing is at least half its values, so refusing
// on the bound caps what the library builds.
func checkValueBound(t *testing.T, content string) {
	dec := yaml.NewDecoder(strings.NewReader(content))
	var doc yaml.Node
	if dec.Decode(&doc) != nil {
		return
	}
	if n, bound := countYAMLNodes(&doc), yamlValueBound([]byte(content)); n > 2*bound+2 {
		t.Fatalf("%d values, bound %d", n, bound)
	}
}

func countYAMLNodes(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += countYAMLNodes(c)
	}
	return count
}
