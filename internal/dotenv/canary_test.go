package dotenv

import (
	"errors"
	"strings"
	"testing"
)

// An unquoted private key spread over lines: its base64 lines look like
// names to the parser. The error points at the lines and shows none of them.
func TestParseErrorOnUnquotedPrivateKeyShowsNoContent(t *testing.T) {
	const canary = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjCANARYd0t3nvKEY"
	content := "APP_NAME=billing\n" +
		"PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\n" +
		canary + "\n" + // a word without '='
		canary[:30] + "+/" + canary[30:] + "\n" + // a name-like start, then '+'
		"-----END PRIVATE KEY-----\n" +
		"export " + canary + " = 'unterminated\n"
	_, err := Parse(content)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *ParseError", err)
	}
	want := "4 problems: " +
		"line 3: " + noEquals + "; " +
		"line 4: expected '=' after the name (names are letters, digits and '_'; a value spanning lines must be quoted); " +
		"line 5: expected NAME=value, found no variable name (names are letters, digits and '_', not starting with a digit); " +
		"line 6: the single quote opened here is never closed"
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	for i := 0; i+8 <= len(canary); i++ {
		if piece := canary[i : i+8]; strings.Contains(err.Error(), piece) {
			t.Fatalf("error shows %q of the key: %s", piece, err)
		}
	}
}
