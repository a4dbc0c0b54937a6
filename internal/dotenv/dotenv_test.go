package dotenv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, content string) []Entry {
	t.Helper()
	entries, err := Parse(content)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return entries
}

func TestParseCornerCases(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []Entry
	}{
		{"plain", "A=b\n", []Entry{{"A", "b", 1}}},
		{"export prefix", "export A=b\nexport\tB=c", []Entry{{"A", "b", 1}, {"B", "c", 2}}},
		{"name starting with export", "exported=1", []Entry{{"exported", "1", 1}}},
		{"spaces around equals", "  A  =  b  ", []Entry{{"A", "b", 1}}},
		{"blank lines and comments", "\n# c\n   # indented comment\n\nA=b\n\n", []Entry{{"A", "b", 5}}},
		{"trailing comment after unquoted", "A=b # note\nB=c\t# tab note", []Entry{{"A", "b", 1}, {"B", "c", 2}}},
		{"hash inside unquoted value", "A=pa#ss\nB=#lead", []Entry{{"A", "pa#ss", 1}, {"B", "#lead", 2}}},
		{"comment right after equals", "A= # nothing", []Entry{{"A", "", 1}}},
		{"empty value", "A=\nB=''\nC=\"\"", []Entry{{"A", "", 1}, {"B", "", 2}, {"C", "", 3}}},
		{"inner spaces kept", "A=one two  three", []Entry{{"A", "one two  three", 1}}},
		{"single quotes are literal", `A='x\ny $HOME "q" # not a comment'`, []Entry{{"A", `x\ny $HOME "q" # not a comment`, 1}}},
		{"single quotes keep surrounding spaces", "A=' x '", []Entry{{"A", " x ", 1}}},
		{"double quote escapes", `A="l1\nl2\tt \"q\" back\\slash \$x \` + "`" + `"`, []Entry{{"A", "l1\nl2\tt \"q\" back\\slash $x `", 1}}},
		{"unknown escape kept", `A="\q \'"`, []Entry{{"A", `\q \'`, 1}}},
		{"backslash at a line end joins the lines", "A=\"one\\\ntwo\"", []Entry{{"A", "onetwo", 1}}},
		{"quoted strings one after the other", `A='it'"'"'s' # c` + "\nB=\"x\"'\\'\nC=\"\"''", []Entry{{"A", "it's", 1}, {"B", `x\`, 2}, {"C", "", 3}}},
		{"escaped backslash before closing quote", `A="end\\" # c`, []Entry{{"A", `end\`, 1}}},
		{"comment after closing quote", `A="v" # c` + "\nB='w'   ", []Entry{{"A", "v", 1}, {"B", "w", 2}}},
		{"multi-line double quoted", "A=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nB=c", []Entry{{"A", "-----BEGIN KEY-----\nabc\n-----END KEY-----", 1}, {"B", "c", 4}}},
		{"multi-line single quoted", "A='one\n  two'\n", []Entry{{"A", "one\n  two", 1}}},
		{"CRLF line endings", "A=b\r\nB=\"c\r\nd\"\r\n", []Entry{{"A", "b", 1}, {"B", "c\nd", 2}}},
		{"byte order mark", "\ufeffA=b", []Entry{{"A", "b", 1}}},
		{"equals in value", "URL=postgres://u@h/db?sslmode=require&x=1", []Entry{{"URL", "postgres://u@h/db?sslmode=require&x=1", 1}}},
		{"lower case and digits", "a_1=x", []Entry{{"a_1", "x", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustParse(t, tc.content); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

const noEquals = "expected NAME=value, found a word without '=' (a value spanning lines must be quoted)"

func TestInvalidLinesAreReportedWithLineNumbers(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []Problem
	}{
		{"no equals", "A=b\nJUSTANAME\n", []Problem{{2, noEquals}}},
		{"digit first", "1A=b", []Problem{{1, "expected NAME=value, found no variable name (names are letters, digits and '_', not starting with a digit)"}}},
		{"dash in name", "MY-KEY=b", []Problem{{1, "expected '=' after the name (names are letters, digits and '_'; a value spanning lines must be quoted)"}}},
		{"text after closing quote", `A="b"c`, []Problem{{1, "unexpected text after the closing quote (quote the whole value, or start a comment with \" #\")"}}},
		{"unterminated double quote", "A=b\nB=\"never\nclosed\nC=d", []Problem{{2, "the double quote opened here is never closed"}}},
		{"unterminated single quote", "A='x", []Problem{{1, "the single quote opened here is never closed"}}},
		{"duplicate name", "A=1\nB=2\nexport A=3", []Problem{{3, "this name is already defined on line 1; keep one"}}},
		{"several problems", "-x\nA=1\n=2", []Problem{{1, "expected NAME=value, found no variable name (names are letters, digits and '_', not starting with a digit)"}, {3, "expected NAME=value, found no variable name (names are letters, digits and '_', not starting with a digit)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := Parse(tc.content)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if entries != nil {
				t.Errorf("entries returned alongside problems: %d", len(entries))
			}
			if !reflect.DeepEqual(pe.Problems, tc.want) {
				t.Errorf("problems %#v\nwant %#v", pe.Problems, tc.want)
			}
		})
	}
}

func TestParseErrorNeverEchoesAValue(t *testing.T) {
	const canary = "CANARYd0t3nv"
	for _, content := range []string{
		`A="` + canary + `"trailing`,
		`A='` + canary,
		`A="` + canary + "\n",
		"A=1\nA=" + canary,
		canary + "-NAME",
		"B " + canary,
		`A="` + canary + `" ` + canary,
	} {
		_, err := Parse(content)
		if err == nil {
			t.Errorf("%q parsed without error", content)
			continue
		}
		// Not even in a name's place: a line that fails to parse may be
		// part of a value.
		msg := err.Error()
		if strings.Contains(msg, canary) {
			t.Errorf("error echoes the value: %s", msg)
		}
	}
}

func TestParseErrorSummaryCountsProblems(t *testing.T) {
	_, err := Parse("X\nY\n")
	if err == nil || err.Error() != "2 problems: line 1: "+noEquals+"; line 2: "+noEquals {
		t.Fatalf("got %v", err)
	}
}
