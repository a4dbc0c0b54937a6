// Package dotenv parses .env files, the plaintext KEY=value files many
// applications load at start-up, so they can be moved into the encrypted
// store, and quotes values for the .env files render writes (Quote). It
// neither expands variables nor changes the environment.
//
// The syntax accepted, a common subset of the dotenv loaders in use:
//
//	# a full-line comment; blank lines are ignored
//	export NAME=value        "export " is allowed and ignored
//	NAME = value             spaces around "=" are allowed
//	NAME=value # comment     unquoted: trimmed; " #" starts a comment
//	NAME=pa#ss               "#" not preceded by a space is part of the value
//	NAME='literal $x \n'     single quotes: exactly what is between them
//	NAME="a\nb \"q\" \\"     double quotes: \n \r \t \" \\ \$ \` escapes,
//	                         and a backslash at a line's end joins the lines
//	NAME="line one           both kinds of quotes may span lines
//	line two"
//	NAME='it'"'"'s'          quoted strings one after the other are joined
//	NAME=                    an empty value
//
// After a closing quote only spaces and a comment may follow. Names are
// letters, digits and '_', not starting with a digit. A name defined twice
// is an error rather than "last one wins": when migrating secrets, which of
// two values the application really used is not something to guess.
//
// Errors give the line number and the problem, never any text of the file,
// not even a name: a line that fails to parse is often part of a value (a
// wrapped private key left unquoted), and what looks like a name there is a
// piece of the secret.
package dotenv

import (
	"fmt"
	"strings"
)

// Entry is one NAME=value assignment.
type Entry struct {
	Name  string
	Value string
	// Line is where the assignment starts (1-based).
	Line int
}

// Problem is one line that could not be parsed. Reason never holds text
// from the file.
type Problem struct {
	Line   int
	Reason string
}

// ParseError lists every problem found in a file.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = fmt.Sprintf("line %d: %s", p.Line, p.Reason)
	}
	noun := "problem"
	if len(e.Problems) > 1 {
		noun = "problems"
	}
	return fmt.Sprintf("%d %s: %s", len(e.Problems), noun, strings.Join(parts, "; "))
}

// Parse reads a .env file's content. On any problem it returns a
// *ParseError listing all of them, and no entries: a file that is only
// partly understood is not half-imported.
func Parse(content string) ([]Entry, error) {
	p := &parser{lines: strings.Split(strings.TrimPrefix(content, "\ufeff"), "\n")}
	for i := range p.lines {
		p.lines[i] = strings.TrimSuffix(p.lines[i], "\r")
	}
	var (
		entries  []Entry
		problems []Problem
		seen     = map[string]int{}
	)
	for p.next < len(p.lines) {
		lineNo := p.next + 1
		e, ok, err := p.assignment()
		if err != "" {
			problems = append(problems, Problem{Line: lineNo, Reason: err})
			continue
		}
		if !ok {
			continue
		}
		if first, dup := seen[e.Name]; dup {
			problems = append(problems, Problem{Line: lineNo, Reason: fmt.Sprintf("this name is already defined on line %d; keep one", first)})
			continue
		}
		seen[e.Name] = lineNo
		entries = append(entries, e)
	}
	if len(problems) > 0 {
		return nil, &ParseError{Problems: problems}
	}
	return entries, nil
}

type parser struct {
	lines []string
	next  int // index of the next line to read
}

// assignment reads the statement starting at the next line: ok is false
// for a blank or comment line; a non-empty problem means the line is
// invalid (and, for an unterminated quote, the rest of the file is used up).
// A problem is a fixed text: see the package comment.
func (p *parser) assignment() (e Entry, ok bool, problem string) {
	start := p.next
	line := p.lines[start]
	p.next++
	e.Line = start + 1

	rest := strings.TrimLeft(line, " \t")
	if rest == "" || rest[0] == '#' {
		return e, false, ""
	}
	if after, found := strings.CutPrefix(rest, "export"); found && after != "" && (after[0] == ' ' || after[0] == '\t') {
		rest = strings.TrimLeft(after, " \t")
	}
	n := 0
	for n < len(rest) && isNameByte(rest[n], n == 0) {
		n++
	}
	if n == 0 {
		return e, false, "expected NAME=value, found no variable name (names are letters, digits and '_', not starting with a digit)"
	}
	e.Name = rest[:n]
	rest = strings.TrimLeft(rest[n:], " \t")
	switch {
	case rest == "":
		return e, false, "expected NAME=value, found a word without '=' (a value spanning lines must be quoted)"
	case rest[0] != '=':
		return e, false, "expected '=' after the name (names are letters, digits and '_'; a value spanning lines must be quoted)"
	}
	unquoted := rest[1:] // kept untrimmed: " #" right after "=" starts a comment
	rest = strings.TrimLeft(unquoted, " \t")

	switch {
	case strings.HasPrefix(rest, "'"), strings.HasPrefix(rest, `"`):
		value, msg := p.quotedValue(rest)
		if msg != "" {
			return e, false, msg
		}
		e.Value = value
	default:
		if i := commentStart(unquoted); i >= 0 {
			unquoted = unquoted[:i]
		}
		e.Value = strings.Trim(unquoted, " \t")
	}
	return e, true, ""
}

// quotedValue reads a value made of quoted strings written one after the
// other ('it'"'"'s', "a"'\'), which a shell joins into one, as Quote
// writes some values.
func (p *parser) quotedValue(rest string) (value, problem string) {
	var b strings.Builder
	for rest != "" && (rest[0] == '\'' || rest[0] == '"') {
		quote := rest[0]
		raw, tail, closed := p.quoted(rest[1:], quote)
		switch {
		case !closed && quote == '\'':
			return "", "the single quote opened here is never closed"
		case !closed:
			return "", "the double quote opened here is never closed"
		case quote == '"':
			raw = unescape(raw)
		}
		b.WriteString(raw)
		rest = tail
	}
	if msg := afterQuote(rest); msg != "" {
		return "", msg
	}
	return b.String(), ""
}

// quoted reads up to the closing quote, across lines if needed. In double
// quotes a backslash escapes the next character, so \" does not close.
func (p *parser) quoted(s string, quote byte) (raw, tail string, closed bool) {
	var b strings.Builder
	for {
		for i := 0; i < len(s); i++ {
			switch {
			case quote == '"' && s[i] == '\\' && i+1 < len(s):
				b.WriteByte(s[i])
				b.WriteByte(s[i+1])
				i++
			case s[i] == quote:
				return b.String(), s[i+1:], true
			default:
				b.WriteByte(s[i])
			}
		}
		if p.next >= len(p.lines) {
			return "", "", false
		}
		b.WriteByte('\n')
		s = p.lines[p.next]
		p.next++
	}
}

// afterQuote checks what follows a closing quote: spaces and a comment.
func afterQuote(tail string) string {
	tail = strings.TrimLeft(tail, " \t")
	if tail == "" || tail[0] == '#' {
		return ""
	}
	return "unexpected text after the closing quote (quote the whole value, or start a comment with \" #\")"
}

// unescape applies the double-quote escapes: a shell's (\$ \` \" \\, and
// a backslash before a line break joins the lines), and \n \r \t as most
// .env loaders read them. Any other escape is kept as written, backslash
// included, as shells do.
func unescape(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 == len(raw) {
			b.WriteByte(raw[i])
			continue
		}
		i++
		switch raw[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '"', '\\', '$', '`':
			b.WriteByte(raw[i])
		case '\n':
			// A line continuation: neither the backslash nor the line break.
		default:
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}

// commentStart finds " #" (or a tab before '#') in an unquoted value.
func commentStart(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// ValidName reports whether name is an environment variable name, as .env
// files and shells accept them: a letter or '_', then letters, digits, '_'.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i], i == 0) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9')
}
