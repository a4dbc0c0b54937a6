package dotenv

import (
	"fmt"
	"strings"
	"testing"
)

// Each value gets the quoting the readers agree on where there is one;
// every quoting reads back exactly through Parse.
func TestQuotePicksTheFormEveryReaderReadsAlike(t *testing.T) {
	for _, tc := range []struct {
		value, quoted string
		exact         bool
	}{
		{"plain", `'plain'`, true},
		{`$HOME $(id) ` + "`id`" + ` "q" # x`, `'$HOME $(id) ` + "`id`" + ` "q" # x'`, true},
		{"two\nlines ünï ✓", "'two\nlines ünï ✓'", true},
		{"", `''`, true},
		{`it's "q" \n`, `"it's \"q\" \\n"`, true},
		{`back\slash`, `"back\\slash"`, true},
		{"${HOME}", `"\${HOME}"''`, false},
		{"it's $(id)", `"it's \$(id)"''`, false},
		{`it's \`, `"it's "'\'`, false},
		{`\\`, `""'\\'`, false},
		{"a'\nEVIL=1\n$(id)`id`", "\"a'\nEVIL=1\n\\$(id)\\`id\\`\"''", false},
		{"crlf\r\nend\r", "\"crlf\r\\\n\nend\r\"''", false},
	} {
		quoted, exact := Quote(tc.value)
		if quoted != tc.quoted || exact != tc.exact {
			t.Errorf("Quote(%q) = %s, %v; want %s, %v", tc.value, quoted, exact, tc.quoted, tc.exact)
		}
	}
}

func TestQuoteReadsBackExactly(t *testing.T) {
	values := []string{
		"plain", `it's a "quote"`, `back\slash \n \\ two`, "two\nlines", "windows\r\nline end\r\n", "cr\ronly\r",
		"tab\there", `$HOME ${PATH} ${X:-d} $(id) ` + "`id`", `# not a comment`, "  spaces  ", `=equals=`,
		"ünïcödé ✓ 🎉 \u200bzero-width", `'single'`, `"double"`, `ends with backslash\`, `\`, "\\\r\n\\", "\x1b[31m",
		"a'\nEVIL=1\n$(id)`id`", "x\nexport EVIL=2\n", "\n",
	}
	var b strings.Builder
	for i, v := range values {
		quoted, _ := Quote(v)
		fmt.Fprintf(&b, "V%d=%s\n", i, quoted)
	}
	entries, err := Parse(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(entries) != len(values) {
		t.Fatalf("%d entries read back, want %d:\n%s", len(entries), len(values), b.String())
	}
	for i, e := range entries {
		if e.Name != fmt.Sprintf("V%d", i) || e.Value != values[i] {
			t.Errorf("V%d read back as %s=%q, want %q", i, e.Name, e.Value, values[i])
		}
	}
}
