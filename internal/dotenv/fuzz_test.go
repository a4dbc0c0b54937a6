package dotenv

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// reasons are every problem Parse reports, digits written as N: an error
// made only of these holds no text of the file.
var reasons = map[string]bool{
	"expected NAME=value, found no variable name (names are letters, digits and '_', not starting with a digit)": true,
	noEquals: true,
	"expected '=' after the name (names are letters, digits and '_'; a value spanning lines must be quoted)": true,
	"the single quote opened here is never closed":                                                           true,
	"the double quote opened here is never closed":                                                           true,
	"unexpected text after the closing quote (quote the whole value, or start a comment with \" #\")":        true,
	"this name is already defined on line N; keep one":                                                       true,
}

var digits = regexp.MustCompile(`[0-9]+`)

// FuzzParseDotenv: any content either parses into entries that survive a
// write by Quote and a second parse unchanged, or fails with problems that are line
// numbers and fixed reasons only.
func FuzzParseDotenv(f *testing.F) {
	for _, seed := range []string{
		"A=b\nexport B=c # note\nC='x y'\nD=\"l1\\nl2 \\\"q\\\"\"\n",
		"\ufeffA=b\r\nB=\"c\r\nd\"\r\n",
		"A=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nB=c",
		"PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN+/Bgkq\nMIIEvQ==\n-----END PRIVATE KEY-----\n",
		"A=\"x\r\\\n\ny\"''\nB=\"\\$\"'\\\\'", "A='it'\"'\"'s'",
		"A=1\nA=2", "1A=b", "MY-KEY=b", `A="b"c`, "A='x", "A=\"x\\", "# c\n\n  \t\nexport\tX=pa#ss",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		entries, err := Parse(content)
		if err != nil {
			checkProblemsAreFixedTexts(t, content, entries, err)
			return
		}
		checkEntriesRoundTrip(t, content, entries)
	})
}

func checkProblemsAreFixedTexts(t *testing.T, content string, entries []Entry, err error) {
	var pe *ParseError
	if !errors.As(err, &pe) || entries != nil || len(pe.Problems) == 0 {
		t.Fatalf("error %v (%T) with %d entries, want a *ParseError with problems and no entries", err, err, len(entries))
	}
	lines := strings.Count(content, "\n") + 1
	last := 0
	for _, p := range pe.Problems {
		if p.Line <= last || p.Line > lines {
			t.Fatalf("problem on line %d after line %d, in a file of %d lines", p.Line, last, lines)
		}
		last = p.Line
		if !reasons[digits.ReplaceAllString(p.Reason, "N")] {
			t.Fatalf("reason %q is not a fixed text", p.Reason)
		}
	}
}

func checkEntriesRoundTrip(t *testing.T, content string, entries []Entry) {
	lines := strings.Count(content, "\n") + 1
	seen := map[string]bool{}
	var out strings.Builder
	for _, e := range entries {
		if e.Name == "" || seen[e.Name] || e.Line < 1 || e.Line > lines {
			t.Fatalf("entry %q on line %d: empty, repeated or beyond the %d lines", e.Name, e.Line, lines)
		}
		seen[e.Name] = true
		for i := 0; i < len(e.Name); i++ {
			if !isNameByte(e.Name[i], i == 0) {
				t.Fatalf("name %q has byte %q", e.Name, e.Name[i])
			}
		}
		quoted, _ := Quote(e.Value)
		out.WriteString(e.Name + "=" + quoted + "\n")
	}
	again, err := Parse(out.String())
	if err != nil {
		t.Fatalf("written back, the entries do not parse: %v", err)
	}
	if len(again) != len(entries) {
		t.Fatalf("%d entries written back, %d read", len(entries), len(again))
	}
	for i := range entries {
		if again[i].Name != entries[i].Name || again[i].Value != entries[i].Value {
			t.Fatalf("entry %d changed: %q=%q became %q=%q", i, entries[i].Name, entries[i].Value, again[i].Name, again[i].Value)
		}
	}
}
