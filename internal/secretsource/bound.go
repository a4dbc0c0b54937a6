package secretsource

import "fmt"

// maxValues bounds how many values (keys, scalars, maps, lists) a file may
// hold. Parsed values cost a few hundred bytes each, so a 16 MiB file of
// "1," would otherwise take gigabytes; a file of secrets holds hundreds.
const maxValues = 100_000

func tooManyValues() error {
	return fmt.Errorf("the file holds more than %d values, more than a file of secrets holds", maxValues)
}

// yamlValueBound is cheap to compute and at least half the values a YAML
// document holds, so that a document too large to parse safely is refused
// before the YAML library builds its tree. Every value starts a line or
// follows a ',', '[', '{', "- ", ": ", "? ", or a ':' right after a
// JSON-like key; those are counted, except inside a quoted scalar that
// opens where a value starts, and inside a block scalar (| or >): a secret
// value in either may span many lines or hold many commas. It stops
// counting past maxValues.
func yamlValueBound(b []byte) int {
	count := 0
	var quote byte    // the quote of an open quoted scalar, or 0
	blockIndent := -1 // inside a block scalar: lines indented deeper are its content
	for start := 0; start < len(b) && count <= maxValues; {
		end := start
		for end < len(b) && b[end] != '\n' {
			end++
		}
		line := b[start:end]
		start = end + 1
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		blank := indent == len(line) || line[indent] == '\r'
		if blockIndent >= 0 {
			if blank || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if quote == 0 {
			count++
		}
		atValueStart := quote == 0 // after indentation, a value may start
		last := byte(' ')          // the last significant byte outside quotes
		for i := indent; i < len(line); i++ {
			c := line[i]
			if quote != 0 {
				switch {
				case quote == '"' && c == '\\':
					i++
				case c == quote && quote == '\'' && i+1 < len(line) && line[i+1] == '\'':
					i++
				case c == quote:
					quote = 0
					last = c
				}
				continue
			}
			switch {
			case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
				i = len(line) // a comment runs to the end of the line
				continue
			case (c == '"' || c == '\'') && atValueStart:
				quote = c
			case c == ',' || c == '[' || c == '{':
				count++
			}
			// After a quoted scalar or a flow collection (a JSON-like key),
			// ':' needs no space: ["a":1,"b":2] is a list of two mappings.
			jsonLikeKey := c == ':' && (last == '"' || last == '\'' || last == ']' || last == '}')
			indicator := (c == '-' || c == ':' || c == '?') && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\r') || jsonLikeKey
			if indicator { // "- - - x" nests on one line
				count++
			}
			// A quote opens a quoted scalar only where a value starts: after
			// indentation, a flow indicator, ": ", or a "- " or "? " that
			// itself stands where a value starts, spaces between them aside.
			// Within a plain scalar ("0 \"x, y", "a - \"b, c") it is text, and
			// the commas after it still count.
			switch {
			case c == ',' || c == '[' || c == '{' || c == ':' && indicator:
				atValueStart = true
			case (c == '-' || c == '?') && indicator && atValueStart:
			case c != ' ' && c != '\t':
				atValueStart = false
			}
			if c != ' ' && c != '\t' && c != '\r' {
				last = c
			}
			if c == '|' || c == '>' {
				last = '|'
			}
		}
		if quote == 0 && last == '|' && blockHeader(line) {
			blockIndent = indent
		}
	}
	return count
}

// blockHeader says whether a line ends with a block scalar header: '|' or
// '>', then optional indentation and chomping indicators, after a space.
func blockHeader(line []byte) bool {
	i := len(line)
	for i > 0 && (line[i-1] == ' ' || line[i-1] == '\t' || line[i-1] == '\r') {
		i--
	}
	for i > 0 && (line[i-1] == '-' || line[i-1] == '+' || line[i-1] >= '0' && line[i-1] <= '9') {
		i--
	}
	if i == 0 || line[i-1] != '|' && line[i-1] != '>' {
		return false
	}
	return i == 1 || line[i-2] == ' ' || line[i-2] == '\t'
}
