package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// assets are the templates and the stylesheet, built into the binary: no
// separate frontend build, nothing fetched from elsewhere.
//
//go:embed templates/*.html static/*
var assets embed.FS

// pageTemplate is one page: the layout with the page's own "content".
type pageTemplate struct{ t *template.Template }

var templateFuncs = template.FuncMap{
	"time":   formatTime,
	"join":   strings.Join,
	"fields": detailFields,
	"wbr":    breakOpportunities,
	"ago": func(t time.Time) string {
		d := time.Since(t).Round(time.Minute)
		switch {
		case d < time.Minute:
			return "just now"
		case d < time.Hour:
			return fmt.Sprintf("%d min ago", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%d h ago", int(d.Hours()))
		}
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	},
}

// formatTime is how a page shows a time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// breakOpportunities lets a line break after a colon and before an at
// sign, so "dashboard:alice@example.com" wraps between its parts rather
// than in the middle of one.
func breakOpportunities(s string) template.HTML {
	var b strings.Builder
	for i, r := range s {
		if r == '@' && i > 0 {
			b.WriteString("<wbr>")
		}
		b.WriteString(template.HTMLEscapeString(string(r)))
		if r == ':' {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String())
}

// detailField is one field of an audit event's details, as text.
type detailField struct{ Key, Value string }

// detailFields reads an event's details (a JSON object) as fields, in the
// object's order (sorted keys, as audit.Details writes them): strings as
// they are, lists of strings (a shred's kids) comma-separated, null and an
// empty list as "none", anything else as compact JSON. Details that are
// not an object give none, and the page shows them as they are.
func detailFields(details string) []detailField {
	var fields map[string]json.RawMessage
	if json.Unmarshal([]byte(details), &fields) != nil {
		return nil
	}
	out := make([]detailField, 0, len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[k]
		var text string
		var list []string
		switch {
		case string(raw) == "null":
			text = "none"
		case json.Unmarshal(raw, &text) == nil:
		case json.Unmarshal(raw, &list) == nil:
			text = strings.Join(list, ", ")
			if len(list) == 0 {
				text = "none"
			}
		default:
			var b bytes.Buffer
			if json.Compact(&b, raw) != nil {
				b.Reset()
				b.Write(raw)
			}
			text = b.String()
		}
		out = append(out, detailField{Key: k, Value: text})
	}
	return out
}

// parsePages parses every page once, at start-up, so a broken template
// fails the server's start rather than a request.
func parsePages() (map[string]*pageTemplate, error) {
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(assets, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", f, err)
		}
		pages[name] = &pageTemplate{t}
	}
	return pages, nil
}

// page is what the layout needs around a page's own content.
type page struct {
	Title string
	// Tab is the navigation tab to highlight.
	Tab string
	// Account is nil before sign-in.
	Account *store.Account
	// Project is the project shown, Projects those the account may pick.
	Project  string
	Projects []string
	// Notice says what the last action did.
	Notice string
	// Nav lists the tabs the account may open.
	Nav []navItem
}

type navItem struct {
	Tab, Label, Href string
}

// nav is the tabs a may open: only those it has the right to.
func nav(a *store.Account, project string) []navItem {
	if a == nil {
		return nil
	}
	q := ""
	if project != "" {
		q = "?project=" + project
	}
	items := []navItem{{"secrets", "Secrets", "/secrets" + q}, {"models", "Model defaults", "/models" + q}, {"audit", "Audit", "/audit" + q}}
	if may(*a, permSeeKeys, "") {
		items = append(items, navItem{"keys", "Keys", "/keys"})
	}
	if may(*a, permManageAccounts, "") {
		items = append(items, navItem{"accounts", "Accounts", "/accounts"})
	}
	return items
}

// view is what a template gets: the layout's page and the page's data.
type view struct {
	page
	Data any
}

// render writes a page. It renders into a buffer first, so a template
// error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page, data any) {
	t, ok := s.pages[name]
	if !ok {
		s.serverError(w, r, p.Account, "render", fmt.Errorf("no template %q", name))
		return
	}
	p.Nav = nav(p.Account, p.Project)
	var buf bytes.Buffer
	if err := t.t.Execute(&buf, view{page: p, Data: data}); err != nil {
		if name == "error" {
			s.log.Error("dashboard: render error page", "error", err.Error())
			http.Error(w, http.StatusText(status), status)
			return
		}
		s.serverError(w, r, p.Account, "render "+name, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderPage renders a signed-in page of rq.
func (s *Server) renderPage(rq *request, status int, name, title, tab string, data any) {
	s.render(rq.w, rq.Request, status, name, s.pageFor(rq, title, tab), data)
}

func (s *Server) pageFor(rq *request, title, tab string) page {
	return page{Title: title, Tab: tab, Account: &rq.account, Project: rq.project}
}

type errorView struct {
	Status  int
	Heading string
	Message string
}

// renderError shows a refusal or a failure as a page of its own, with the
// account's navigation when there is one.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, a *store.Account, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), Account: a},
		errorView{Status: status, Heading: http.StatusText(status), Message: msg})
}

// pickProject lists the projects the account may see, for the page's
// project picker, and makes the request's project the first of them when
// none was asked for. A project asked for that is not listed yet (a new,
// empty one) is added. ok is false when the page has already failed.
func (s *Server) pickProject(rq *request) (projects []string, ok bool) {
	all, err := rq.st.ListProjects(rq.Context())
	if err != nil {
		s.failed(rq, "list projects", err)
		return nil, false
	}
	return pickFrom(rq, all), true
}

// pickFrom is pickProject's choice among all the projects there are.
func pickFrom(rq *request, all []string) []string {
	projects := visibleProjects(rq.account, all)
	if rq.project == "" && len(projects) > 0 {
		rq.project = projects[0]
	}
	if rq.project != "" && !slices.Contains(projects, rq.project) {
		projects = append(projects, rq.project)
	}
	return projects
}

// failed is serverError for a request's handler.
func (s *Server) failed(rq *request, what string, err error) {
	s.serverError(rq.w, rq.Request, &rq.account, what, err)
}

// serverError logs what failed and shows a generic page: store errors never
// hold a value, but a browser has no use for a database's words either.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, a *store.Account, what string, err error) {
	s.log.Error("dashboard: "+what, "method", r.Method, "path", r.URL.Path, "error", err.Error())
	if store.IsConnectionLoss(err) {
		s.renderError(w, r, a, http.StatusServiceUnavailable, "The database could not be reached (a restart or failover) to "+what+"; nothing was changed. Try again in a few seconds.")
		return
	}
	s.renderError(w, r, a, http.StatusInternalServerError, "Something went wrong on the server ("+what+"). It has been logged; try again, and if it persists, ask whoever runs the dashboard to check its log.")
}
