package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// auditPageSize is how many events a page of the audit trail shows.
const auditPageSize = 50

type auditView struct {
	Filter auditFilterForm
	Events []audit.Event
	// Older is the link to the next page, "" on the last.
	Older     string
	Actions   []string
	CanVerify bool
	Error     string
}

// auditFilterForm is the filter as typed, kept to fill the form again and
// to carry into the next page's link and the download.
type auditFilterForm struct {
	Project, Actor, Action, Since, Until string
}

func (f auditFilterForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"project": f.Project, "actor": f.Actor, "action": f.Action, "since": f.Since, "until": f.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// auditFilter reads the filter of a request, limited to the projects the
// account may see. Times take the forms `audit export` takes.
func auditFilter(rq *request, get func(string) string) (auditFilterForm, store.AuditFilter, error) {
	form := auditFilterForm{
		Project: rq.project, Actor: strings.TrimSpace(get("actor")), Action: strings.TrimSpace(get("action")),
		Since: strings.TrimSpace(get("since")), Until: strings.TrimSpace(get("until")),
	}
	f := store.AuditFilter{Project: form.Project, Actor: form.Actor, Action: form.Action, Projects: rq.account.Projects}
	now := time.Now()
	var err error
	if form.Since != "" {
		if f.Since, err = audit.ParseExportTime("since", form.Since, now); err != nil {
			return form, f, err
		}
	}
	if form.Until != "" {
		if f.Until, err = audit.ParseExportTime("until", form.Until, now); err != nil {
			return form, f, err
		}
	}
	return form, f, nil
}

// auditPage shows the trail newest first, a page at a time. Pages follow
// by seq (the link carries the last seq shown), so the thousandth page
// costs what the first does.
func (s *Server) auditPage(rq *request) {
	q := rq.URL.Query()
	form, f, err := auditFilter(rq, q.Get)
	v := auditView{Filter: form, Actions: audit.Actions, CanVerify: may(rq.account, permVerifyAudit, "")}
	p := s.pageFor(rq, "Audit", "audit")
	all, lerr := rq.st.ListProjects(rq.Context())
	if lerr != nil {
		s.failed(rq, "list projects", lerr)
		return
	}
	p.Projects = visibleProjects(rq.account, all)
	if err != nil {
		v.Error = upperFirst(strings.Replace(err.Error(), "--", "", 1)) + "."
		s.render(rq.w, rq.Request, http.StatusBadRequest, "audit", p, v)
		return
	}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	events, err := rq.st.AuditEvents(rq.Context(), f, max(before, 0), auditPageSize+1)
	if err != nil {
		s.failed(rq, "read audit events", err)
		return
	}
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		next := form.values()
		next.Set("before", strconv.FormatInt(events[len(events)-1].Seq, 10))
		v.Older = "/audit?" + next.Encode()
	}
	v.Events = events
	s.render(rq.w, rq.Request, http.StatusOK, "audit", p, v)
}

// exportAudit downloads the filtered trail as JSON lines or CSV, with the
// same writers and the same audit.export event as `pgsecrets audit
// export` (CSV as its --csv-formulas neutralise writes it).
func (s *Server) exportAudit(rq *request) {
	_, f, err := auditFilter(rq, rq.PostFormValue)
	if err != nil {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusBadRequest, upperFirst(strings.Replace(err.Error(), "--", "", 1))+".")
		return
	}
	format := rq.PostFormValue("format")
	contentType := map[string]string{audit.FormatJSONL: "application/x-ndjson", audit.FormatCSV: "text/csv; charset=utf-8"}[format]
	if contentType == "" {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusBadRequest, fmt.Sprintf("Download format %q is not supported: use jsonl or csv.", format))
		return
	}
	out := &downloadWriter{w: rq.w, contentType: contentType,
		filename: fmt.Sprintf("pgsecrets-audit-%s.%s", time.Now().UTC().Format("20060102T150405Z"), format)}
	// A download is opened in a spreadsheet as often as not: no cell may run
	// there as a formula. `audit export` keeps the exact bytes by default.
	ew, err := audit.NewExportWriter(out, format, audit.NeutraliseFormulas)
	if err != nil {
		s.failed(rq, "start audit export", err)
		return
	}
	_, err = rq.st.ExportAudit(rq.Context(), f, format, ew.Write)
	if err == nil {
		err = ew.Close()
	}
	switch {
	case err != nil && !out.started:
		s.storeError(rq, "export audit events", err)
	case err != nil:
		// The download has started: the browser gets a truncated file, the
		// log says why.
		s.log.Error("dashboard: audit export interrupted", "account", rq.account.Email, "error", err.Error())
	case !out.started:
		out.start() // no event matched: an empty JSON lines file
	}
}

// downloadWriter sends the download's headers with its first bytes, so
// that a failure before any (the export's own audit event) can still be
// shown as a page.
type downloadWriter struct {
	w           http.ResponseWriter
	contentType string
	filename    string
	started     bool
}

func (d *downloadWriter) start() {
	d.started = true
	h := d.w.Header()
	h.Set("Content-Type", d.contentType)
	h.Set("Content-Disposition", `attachment; filename="`+d.filename+`"`)
	d.w.WriteHeader(http.StatusOK)
}

func (d *downloadWriter) Write(b []byte) (int, error) {
	if !d.started {
		d.start()
	}
	return d.w.Write(b)
}

type verifyView struct {
	Report audit.ChainReport
	Error  string
	Took   time.Duration
}

// verifyAudit walks the whole chain, as `pgsecrets audit verify` does. It
// reads only, and is shown to admins, who can act on a broken chain.
func (s *Server) verifyAudit(rq *request) {
	start := time.Now()
	rep, err := rq.st.VerifyAuditChain(rq.Context(), "")
	v := verifyView{Report: rep, Took: time.Since(start).Round(time.Millisecond)}
	status := http.StatusOK
	if err != nil {
		v.Error = upperFirst(err.Error()) + "."
		status = http.StatusConflict
		s.log.Warn("dashboard: audit chain does not verify", "error", err.Error())
	}
	s.renderPage(rq, status, "audit_verify", "Audit chain", "audit", v)
}
