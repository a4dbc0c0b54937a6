package dotenv

import (
	"regexp"
	"strings"
)

// The readers a rendered .env file meets: POSIX shells that source it
// (`set -a; . ./app.env` in bash, dash or busybox sh), python-dotenv, and
// Parse. Each value must be inert for all of them (no command runs, no
// line of a value becomes an assignment) and exact wherever it can be:
//
//   - In a shell, single quotes are literal except for ', and double quotes
//     are literal except for \ before $ ` " \ or a line break.
//   - python-dotenv decodes \\ and \' inside single quotes, \\ \" \' \n \t
//     and the like inside double quotes, expands ${NAME} (and
//     ${NAME:-default}) inside either, and reads a carriage return as a line
//     break. A quoted string ends at the first quote not preceded by a
//     backslash; a line it cannot parse is skipped, up to its end.
//
// No one quoting carries every value exactly to all of them, so Quote picks
// per value.

// pythonDotenvVariable is what python-dotenv expands, in any quotes.
var pythonDotenvVariable = regexp.MustCompile(`\$\{[^}:]*(?::-[^}]*)?\}`)

// Quote writes value for a NAME=value line. exact says whether python-dotenv
// reads back exactly value; shells and Parse always do. Quote:
//
//   - single quotes, when value holds no ', no \, no carriage return and
//     nothing python-dotenv expands: literal for every reader;
//   - else double quotes with \\ and \" escapes, when value holds no $, no `,
//     no carriage return and does not end with \: exact for every reader;
//   - else double quotes with shell escapes (\$ \` \" \\), a line
//     continuation between a carriage return and a line break (so that no
//     line ends with the carriage return, which line-based readers drop),
//     and the value's trailing backslashes, if any, in single quotes right
//     after the closing double quote (an empty pair when there are none).
//     Shells and Parse join the two; python-dotenv
//     reads the double-quoted part as one string (no line of the value can
//     become an assignment), then stops at the single quote and skips the
//     whole assignment with a warning. exact is false.
//
// A NUL byte cannot be in an environment variable: callers refuse it.
func Quote(value string) (quoted string, exact bool) {
	switch {
	case !strings.ContainsAny(value, "'\\\r") && !pythonDotenvVariable.MatchString(value):
		return "'" + value + "'", true
	case !strings.ContainsAny(value, "$`\r") && !strings.HasSuffix(value, `\`):
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`, true
	}
	body := strings.TrimRight(value, `\`)
	var b strings.Builder
	b.Grow(len(value) + len(value)/8 + 6)
	b.WriteByte('"')
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '\\', '"', '$', '`':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteByte(c)
			if i+1 < len(body) && body[i+1] == '\n' {
				b.WriteString("\\\n")
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`"'`)
	b.WriteString(value[len(body):])
	b.WriteByte('\'')
	return b.String(), false
}
