package dashboard

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestBrowserAuditFilterAndDownloads(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"K1", "K2", "K3"} {
		e.put("app", name, "v")
	}
	e.put("app", "K1", "v2")
	e.put("other", "K1", "v")
	e.account("v@example.com", store.RoleViewer)
	tb := e.openTab()
	tb.signIn("v@example.com")

	// The tab keeps the project the secrets page showed: its four writes,
	// and the making of its key by the first of them.
	tb.click("#tab-audit")
	if n := tb.count("table#audit-events tr[data-seq]"); n != 5 || tb.value("#filter-project") != "app" {
		t.Fatalf("%d events of project app, want 5\n%s", n, tb.where())
	}
	if got := tb.texts("table#audit-events tbody tr"); !strings.Contains(got[len(got)-1], "cli-user\tkey.create\tapp\t"+e.projectKID("app")+"\t") {
		t.Errorf("the oldest event of project app is not the making of its key: %q", got[len(got)-1])
	}
	tb.choose("#filter-project", "")
	tb.click("form#audit-filter button")
	all := strings.Join(tb.texts("table#audit-events tbody tr"), "\n")
	if !strings.Contains(all, "secret.create\tother\tK1") || !strings.Contains(all, "dashboard:v@example.com\taccount.signin") {
		t.Fatalf("the events of every project:\n%s", all)
	}
	tb.choose("#filter-project", "app")
	tb.choose("#filter-action", "secret.create")
	tb.fill("#filter-since", "24h")
	if status := tb.click("form#audit-filter button"); status != http.StatusOK {
		t.Fatalf("filter: %d\n%s", status, tb.where())
	}
	if tb.value("#filter-project") != "app" || tb.value("#filter-action") != "secret.create" || tb.value("#filter-since") != "24h" {
		t.Error("the filter form does not show the filter")
	}
	rows := tb.texts("table#audit-events tbody tr")
	if len(rows) != 3 {
		t.Fatalf("%d events filtered, want 3:\n%s", len(rows), strings.Join(rows, "\n"))
	}
	for i, subject := range []string{"K3", "K2", "K1"} { // newest first
		if !strings.Contains(rows[i], "cli-user\tsecret.create\tapp\t"+subject+"\t") {
			t.Errorf("event %d: %q", i, rows[i])
		}
	}

	// Both downloads hold the filtered events, oldest first, as `audit
	// export` writes them.
	name, jsonl := tb.download("#download-jsonl")
	if !regexp.MustCompile(`^pgsecrets-audit-\d{8}T\d{6}Z\.jsonl$`).MatchString(name) {
		t.Errorf("JSON lines file name %q", name)
	}
	var subjects []string
	for _, line := range strings.Split(strings.TrimSuffix(string(jsonl), "\n"), "\n") {
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("JSON lines download: %v\n%s", err, jsonl)
		}
		if ev.Action != audit.ActionSecretCreate || ev.Project != "app" {
			t.Errorf("an event the filter excludes: %s", line)
		}
		subjects = append(subjects, ev.Subject)
	}
	if !slices.Equal(subjects, []string{"K1", "K2", "K3"}) {
		t.Errorf("JSON lines subjects %v", subjects)
	}

	name, csv := tb.download("#download-csv")
	if !strings.HasSuffix(name, ".csv") {
		t.Errorf("CSV file name %q", name)
	}
	lines := strings.Split(strings.TrimSuffix(string(csv), "\n"), "\n")
	if len(lines) != 4 || lines[0] != strings.Join(audit.ExportFields, ",") {
		t.Fatalf("CSV download:\n%s", csv)
	}
	for i, subject := range []string{"K1", "K2", "K3"} {
		if !strings.Contains(lines[i+1], ",secret.create,app,"+subject+",") {
			t.Errorf("CSV row %d: %s", i+1, lines[i+1])
		}
	}
	exports := `dashboard:v@example.com {"action":"secret.create","format":"jsonl","project":"app","since":"[^"]+"}` + "\n" +
		`dashboard:v@example.com {"action":"secret.create","format":"csv","project":"app","since":"[^"]+"}`
	if got := e.query("select string_agg(actor || ' ' || details, E'\n' order by seq) from audit_events where action = 'audit.export'"); !regexp.MustCompile("^" + exports + "$").MatchString(got) {
		t.Errorf("the downloads' audit events:\n%s", got)
	}

	// A filter that matches nothing says so.
	tb.fill("#filter-actor", "nobody")
	tb.click("form#audit-filter button")
	if tb.text("#no-events") != "No events match." {
		t.Errorf("no match:\n%s", tb.where())
	}
}
