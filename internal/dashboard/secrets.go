package dashboard

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/envpolicy"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// revealPurpose is recorded in the audit event of a reveal, as "cli" is
// for `secret get`.
const revealPurpose = "dashboard"

// secretsPageSize is how many secrets a page of the Secrets tab shows: a
// project of a thousand stays quick to load and to read.
const secretsPageSize = 100

type secretsView struct {
	Project string
	// Query narrows the list to names and descriptions that contain it.
	Query string
	// Groups are this page's secrets by category.
	Groups []secretGroup
	// Unset are the catalog's well-known names the project has not set,
	// by category, shown collapsed.
	Unset      []secretGroup
	UnsetCount int
	// Deleted are the deleted secrets an undelete can still bring back.
	Deleted []store.DeletedSecret
	// Total is how many secrets match; First and Last number this page's.
	Total, First, Last int
	// Previous and Next link the neighbouring pages, "" at either end.
	Previous, Next string
	Restart        *store.PendingRestart
	// MayOpenProject lets an account that sees every project start a new
	// one.
	MayOpenProject                                     bool
	CanWrite, CanReveal, CanDelete, CanAck, CanRestore bool
}

type secretGroup struct {
	Category string
	Rows     []secretRow
	// RowsHTML are the rows of a group of set secrets (secretRowsHTML).
	RowsHTML template.HTML
}

// secretRow is a secret, or an empty slot: a well-known name of the
// catalog the project has not set.
type secretRow struct {
	Name        string
	Description string
	Set         bool
	Meta        store.SecretMeta
	Restart     bool
	Terraform   bool
	Shape       string
	category    string
}

func (s *Server) secretsPage(rq *request) {
	ctx := rq.Context()
	// A project asked for is read beside the projects' list; otherwise the
	// list picks it first.
	var projects []string
	listed := rq.project == ""
	if listed {
		var ok bool
		if projects, ok = s.pickProject(rq); !ok {
			return
		}
	}
	v := secretsView{
		Project: rq.project, Query: strings.TrimSpace(rq.URL.Query().Get("q")),
		MayOpenProject: len(rq.account.Projects) == 0 && may(rq.account, permWriteSecrets, ""),
		CanWrite:       may(rq.account, permWriteSecrets, rq.project), CanReveal: may(rq.account, permRevealSecrets, rq.project),
		CanDelete: may(rq.account, permDeleteSecrets, rq.project), CanAck: may(rq.account, permAckRestart, rq.project),
		CanRestore: may(rq.account, permRestoreSecrets, rq.project),
	}
	if rq.project != "" {
		// A page starts at a place (the links this page makes), or at a
		// page number (links made before there were places).
		page, _ := strconv.Atoi(rq.URL.Query().Get("page"))
		page = min(max(page, 1), math.MaxInt32) // any offset PostgreSQL takes
		from := parsePlace(rq.URL.Query().Get("from"))
		// Everything the page shows comes in one round trip, the projects'
		// list too when the project was asked for rather than picked.
		secrets, err := rq.st.PageSecrets(ctx, store.SecretsPageQuery{
			Project: rq.project, Match: v.Query, From: from, Offset: (page - 1) * secretsPageSize, Limit: secretsPageSize,
			Names: catalogNames, Projects: !listed,
		})
		if err != nil {
			s.failed(rq, "list secrets", err)
			return
		}
		if !listed {
			projects = pickFrom(rq, secrets.Projects)
		}
		v.setSecrets(secrets)
		for _, d := range secrets.Deleted {
			if matches(v.Query, d.Name, d.Description) {
				v.Deleted = append(v.Deleted, d)
			}
		}
		v.Restart = secrets.Restart
	}
	p := s.pageFor(rq, "Secrets", "secrets")
	p.Projects, p.Notice = projects, secretsNotice(rq.URL.Query())
	s.render(rq.w, rq.Request, http.StatusOK, "secrets", p, v)
}

// catalogNames are the catalog's well-known names, for PageSecrets to say
// which a project has set.
var catalogNames = func() []string {
	var names []string
	for _, e := range catalog.All() {
		names = append(names, e.Name)
	}
	return names
}()

// setSecrets fills the page's secrets from a page in category order, and
// the catalog's names not set.
func (v *secretsView) setSecrets(page store.SecretsPage) {
	rows := make([]secretRow, 0, len(page.Secrets))
	for _, m := range page.Secrets {
		rows = append(rows, secretRow{
			Name: m.Name, Description: m.Description, Set: true, Meta: m, Restart: m.RequiresRestart,
			Terraform: m.UpdatedVia == store.ChannelTerraform, category: m.Category,
		})
	}
	v.Total = page.Total
	first, last := page.Offset, page.Offset+len(rows)
	v.Groups = groupByCategory(rows)
	for i := range v.Groups {
		v.Groups[i].RowsHTML = v.secretRowsHTML(v.Groups[i].Rows)
	}
	v.First, v.Last = first+1, last
	link := func(q url.Values) string {
		q.Set("project", v.Project)
		if v.Query != "" {
			q.Set("q", v.Query)
		}
		return "/secrets?" + q.Encode()
	}
	switch {
	case first == 0:
	case first <= secretsPageSize:
		v.Previous = link(url.Values{})
	case page.Previous != nil:
		// The page number is the place's offset, about: PageSecrets
		// counts from the nearer end with it.
		v.Previous = link(url.Values{"from": {formatPlace(*page.Previous)}, "page": {strconv.Itoa(pageOf(first - secretsPageSize))}})
	default:
		// A page read by its number: the one before by number.
		v.Previous = link(url.Values{"page": {strconv.Itoa(pageOf(first - secretsPageSize))}})
	}
	if page.Next != nil {
		v.Next = link(url.Values{"from": {formatPlace(*page.Next)}, "page": {strconv.Itoa(pageOf(first + len(page.Secrets)))}})
	}

	var slots []secretRow
	for _, e := range catalog.All() {
		if !slices.Contains(page.Existing, e.Name) && matches(v.Query, e.Name, e.Description) {
			slots = append(slots, secretRow{Name: e.Name, Description: e.Description, Restart: e.RequiresRestart, Shape: e.Shape, category: e.Category})
		}
	}
	sortByCategory(slots)
	v.Unset, v.UnsetCount = groupByCategory(slots), len(slots)
}

// pageOf is the number of the page that starts offset secrets in.
func pageOf(offset int) int { return max(offset, 0)/secretsPageSize + 1 }

// formatPlace writes a place in the Secrets page's order as a link's
// "from": the category, a slash, and the name, which has no slash.
func formatPlace(p store.SecretsPageKey) string { return p.Category + "/" + p.Name }

// parsePlace reads formatPlace's form; nil when it is not one.
func parsePlace(s string) *store.SecretsPageKey {
	i := strings.LastIndexByte(s, '/')
	if i < 0 || store.ValidateSecretName(s[i+1:]) != nil {
		return nil
	}
	return &store.SecretsPageKey{Category: s[:i], Name: s[i+1:]}
}

// matches reports whether the name or the description holds the query,
// in any case, as store.PageSecrets matches secrets.
func matches(query, name, description string) bool {
	if query == "" {
		return true
	}
	q := strings.ToLower(query)
	return strings.Contains(strings.ToLower(name), q) || strings.Contains(strings.ToLower(description), q)
}

// sortByCategory orders rows by category, alphabetical with uncategorised
// last, then by name.
func sortByCategory(rows []secretRow) {
	slices.SortFunc(rows, func(a, b secretRow) int {
		if (a.category == "") != (b.category == "") {
			return cmp.Compare(b.category, a.category) // "" last
		}
		return cmp.Or(cmp.Compare(a.category, b.category), cmp.Compare(a.Name, b.Name))
	})
}

// groupByCategory cuts rows sorted by category into groups.
func groupByCategory(rows []secretRow) []secretGroup {
	var groups []secretGroup
	for _, r := range rows {
		if len(groups) == 0 || groups[len(groups)-1].Category != r.category {
			groups = append(groups, secretGroup{Category: r.category})
		}
		g := &groups[len(groups)-1]
		g.Rows = append(g.Rows, r)
	}
	return groups
}

// secretsNotice says what the action that redirected here did. Only names
// that are valid secret names are shown: the query is anyone's to write.
func secretsNotice(q url.Values) string {
	name := q.Get("name")
	if store.ValidateSecretName(name) != nil {
		name = ""
	}
	rev, revErr := strconv.ParseInt(q.Get("revision"), 10, 64)
	switch {
	case q.Get("done") == "saved" && name != "":
		saved := fmt.Sprintf("Saved %s.", name)
		if revErr == nil {
			saved = fmt.Sprintf("Saved %s (revision %d).", name, rev)
		}
		if w := envpolicy.StartupWarning(name); w != "" {
			saved += " Warning: " + w + "."
		}
		return saved
	case q.Get("done") == "deleted" && name != "":
		return fmt.Sprintf("Deleted %s. Within the retention window, Undelete (under the deleted secrets below) brings it back.", name)
	case q.Get("done") == "undeleted" && name != "" && revErr == nil:
		return fmt.Sprintf("Undeleted %s (revision %d).", name, rev)
	case q.Get("done") == "acked":
		return "Recorded the restart: the notice is cleared until a restart-bound secret changes again."
	}
	return ""
}

type secretFormView struct {
	Project  string
	Name     string
	Existing bool
	Meta     store.SecretMeta
	// Description, Category and Restart are the form's values.
	Description string
	Category    string
	Restart     bool
	Revision    int64
	Terraform   bool
	Entry       *catalog.Entry
	Error       string
}

// secretForm shows the form to add a secret, fill a catalog slot, or
// change a secret's value. The value field always starts empty: a value
// is never sent back to the browser, here or anywhere but a reveal.
func (s *Server) secretForm(rq *request) {
	name := rq.PathValue("name")
	v := secretFormView{Project: rq.project, Name: name}
	if name != "" {
		if err := store.ValidateSecretName(name); err != nil {
			s.renderError(rq.w, rq.Request, &rq.account, http.StatusNotFound, "There is no such secret: "+err.Error())
			return
		}
		meta, err := rq.st.GetSecretMeta(rq.Context(), rq.project, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.failed(rq, "read secret", err)
			return
		default:
			v.setExisting(meta)
		}
	}
	v.applyCatalog()
	s.renderPage(rq, http.StatusOK, "secret_form", formTitle(v), "secrets", v)
}

func (v *secretFormView) setExisting(m store.SecretMeta) {
	v.Existing, v.Meta, v.Revision = true, m, m.Revision
	v.Description, v.Category, v.Restart = m.Description, m.Category, m.RequiresRestart
	v.Terraform = m.UpdatedVia == store.ChannelTerraform
}

// applyCatalog fills a new well-known secret's fields with the catalog's
// defaults, and gives the form its shape hint.
func (v *secretFormView) applyCatalog() {
	e, ok := catalog.Lookup(v.Name)
	if !ok {
		return
	}
	v.Entry = &e
	if !v.Existing {
		v.Description = cmp.Or(v.Description, e.Description)
		v.Category = cmp.Or(v.Category, e.Category)
		v.Restart = e.RequiresRestart
	}
}

func formTitle(v secretFormView) string {
	if v.Existing {
		return "Change " + v.Name
	}
	if v.Name != "" {
		return "Set " + v.Name
	}
	return "Add a secret"
}

// saveSecret writes a secret through store.PutSecret, the one write path:
// the catalog's defaults and shape check, compare-and-swap on the revision
// the form was made from, and the audit event.
func (s *Server) saveSecret(rq *request) {
	f := rq.Request
	v := secretFormView{
		Project: rq.project, Name: f.PostFormValue("name"),
		Description: f.PostFormValue("description"), Category: f.PostFormValue("category"),
		Restart: f.PostFormValue("requires_restart") != "",
	}
	value, msg := submittedValue(f)
	revision, err := strconv.ParseInt(f.PostFormValue("revision"), 10, 64)
	if err != nil || revision < 0 {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusBadRequest, "The form is incomplete (no revision); reload the page and try again.")
		return
	}
	v.Revision, v.Existing = revision, revision > 0
	if msg == "" {
		msg = checkSecretInput(v.Name)
	}
	if msg != "" {
		s.formError(rq, v, http.StatusUnprocessableEntity, msg)
		return
	}
	meta, err := rq.st.PutSecret(rq.Context(), store.PutSecretInput{
		Project: rq.project, Name: v.Name, Value: []byte(value),
		Description: v.Description, Category: v.Category, RequiresRestart: &v.Restart,
		Validate: true, ExpectedRevision: revision,
		// The same form sent again (after a lost connection, or twice)
		// does not write twice what was written once.
		SameIsDone: true,
	})
	var (
		invalid  *store.ValueError
		shape    *catalog.ShapeError
		conflict *store.ConflictError
	)
	switch {
	case errors.As(err, &invalid):
		msg := upperFirst(err.Error()) + "; nothing was written."
		if invalid.Empty {
			msg += " A value is never shown again here, so type or paste it each time."
		}
		s.formError(rq, v, http.StatusUnprocessableEntity, msg)
	case errors.As(err, &shape):
		s.formError(rq, v, http.StatusUnprocessableEntity, err.Error()+"; nothing was written; check the value.")
	case errors.As(err, &conflict):
		s.conflictForm(rq, v, conflict)
	case errors.Is(err, store.ErrNotFound):
		v.Revision, v.Existing = 0, false
		s.formError(rq, v, http.StatusConflict, fmt.Sprintf("%s was deleted by someone else meanwhile; nothing was written. Save again to create it.", v.Name))
	case err != nil:
		s.storeError(rq, "save secret", err)
	default:
		http.Redirect(rq.w, rq.Request, "/secrets?"+url.Values{"project": {rq.project}, "done": {"saved"}, "name": {meta.Name}, "revision": {strconv.FormatInt(meta.Revision, 10)}}.Encode(), http.StatusSeeOther)
	}
}

// submittedValue is the value typed in the password field, or the content
// of the file chosen, without one trailing newline as `secret add
// --file` reads it. The message, when not empty, says what is wrong
// without quoting the value.
func submittedValue(r *http.Request) (string, string) {
	typed := r.PostFormValue("value")
	file, _, err := r.FormFile("value_file")
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return typed, ""
	}
	if err != nil {
		return "", "The file could not be read; nothing was written."
	}
	defer file.Close()
	b, err := store.ReadValue(file)
	if err != nil {
		return "", "The file could not be read; nothing was written."
	}
	if len(b) == 0 {
		return typed, "" // an empty file input: no file was chosen
	}
	if typed != "" {
		return "", "Give the value either in the field or as a file, not both; nothing was written."
	}
	return string(b), ""
}

// checkSecretInput checks what the store would refuse less helpfully. Its
// messages never quote the value; the value's own limits are the store's
// (store.ValidateValue), reported by saveSecret.
func checkSecretInput(name string) string {
	if err := store.ValidateSecretName(name); err != nil {
		return upperFirst(err.Error()) + "."
	}
	return ""
}

// conflictForm shows the form again after a compare-and-swap lost, with the
// secret as it is now, so the person can review it and save again.
func (s *Server) conflictForm(rq *request, v secretFormView, c *store.ConflictError) {
	meta, err := rq.st.GetSecretMeta(rq.Context(), rq.project, v.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.failed(rq, "read secret", err)
		return
	}
	msg := fmt.Sprintf("%s was changed by someone else meanwhile (now revision %d, you edited revision %d); nothing was written. Review it and save again to replace it.", v.Name, c.Current, c.Expected)
	if c.Expected == store.MustNotExist {
		msg = fmt.Sprintf("%s was created by someone else meanwhile (revision %d); nothing was written. Review it and save again to replace it.", v.Name, c.Current)
	}
	if err == nil {
		v.Existing, v.Meta, v.Revision = true, meta, meta.Revision
		v.Terraform = meta.UpdatedVia == store.ChannelTerraform
	}
	s.formError(rq, v, http.StatusConflict, msg)
}

func (s *Server) formError(rq *request, v secretFormView, status int, msg string) {
	v.Error = msg
	if store.ValidateSecretName(v.Name) != nil {
		v.Name = ""
	}
	v.applyCatalog()
	s.renderPage(rq, status, "secret_form", formTitle(v), "secrets", v)
}

type revealView struct {
	Project string
	Meta    store.SecretMeta
	// Value is the value as text; Binary is true when it is not UTF-8 and
	// is not shown.
	Value  string
	Binary bool
	Size   int
}

// revealSecret shows an admin one value, audited as a read like `secret
// get`. It answers a POST: a link cannot trigger it, nor a prefetch.
func (s *Server) revealSecret(rq *request) {
	name := rq.PathValue("name")
	sec, err := rq.st.GetSecret(rq.Context(), rq.project, name, revealPurpose)
	if err != nil {
		s.storeError(rq, "reveal secret", err)
		return
	}
	v := revealView{Project: rq.project, Meta: sec.SecretMeta, Size: len(sec.Value), Binary: !utf8.Valid(sec.Value)}
	if !v.Binary {
		v.Value = string(sec.Value)
	}
	clear(sec.Value)
	s.renderPage(rq, http.StatusOK, "reveal", "Value of "+name, "secrets", v)
}

type deleteView struct {
	Project string
	Meta    store.SecretMeta
	// UndeleteUntil is when an undelete stops being possible if deleted
	// now; nil when the retention sets no limit.
	UndeleteUntil *time.Time
}

func (s *Server) confirmDelete(rq *request) {
	meta, err := rq.st.GetSecretMeta(rq.Context(), rq.project, rq.PathValue("name"))
	if err != nil {
		s.storeError(rq, "read secret", err)
		return
	}
	ret, err := rq.st.GetRetention(rq.Context(), rq.project)
	if err != nil {
		s.storeError(rq, "read history retention", err)
		return
	}
	v := deleteView{Project: rq.project, Meta: meta}
	if ret.DeletedFor > 0 {
		v.UndeleteUntil = new(time.Now().Add(ret.DeletedFor))
	}
	s.renderPage(rq, http.StatusOK, "secret_delete", "Delete "+meta.Name, "secrets", v)
}

// deleteSecret deletes the revision the confirmation showed, and nothing
// newer.
func (s *Server) deleteSecret(rq *request) {
	name := rq.PathValue("name")
	revision, err := strconv.ParseInt(rq.PostFormValue("revision"), 10, 64)
	if err != nil || revision < 1 {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusBadRequest, "The form is incomplete (no revision); reload the page and try again.")
		return
	}
	err = rq.st.DeleteSecret(rq.Context(), rq.project, name, revision)
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusConflict,
			fmt.Sprintf("%s was changed by someone else meanwhile (now revision %d, you confirmed revision %d); nothing was deleted. Review it and delete again.", name, conflict.Current, revision))
		return
	}
	if err != nil {
		s.storeError(rq, "delete secret", err)
		return
	}
	http.Redirect(rq.w, rq.Request, "/secrets?"+url.Values{"project": {rq.project}, "done": {"deleted"}, "name": {name}}.Encode(), http.StatusSeeOther)
}

// storeError shows a store error: what is missing as 404, errors whose
// message says what to do as they are (none quotes a value), anything
// else as a logged server error.
func (s *Server) storeError(rq *request, what string, err error) {
	var (
		unbound *store.UnboundError
		retired *store.AuditKeyRetiredError
		unknown *store.OutcomeUnknownError
	)
	switch {
	case errors.As(err, &unknown):
		s.log.Error("dashboard: "+what, "path", rq.URL.Path, "error", err.Error())
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusServiceUnavailable,
			"The connection to the database was lost (a restart or failover) while the change was being saved, so whether it was saved is unknown. Go back and send it again: a change that was saved is not saved twice.")
	case errors.Is(err, store.ErrNotFound):
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusNotFound, upperFirst(err.Error())+".")
	case errors.As(err, &unbound), errors.As(err, &retired), errors.Is(err, store.ErrNoRootKeys):
		s.log.Error("dashboard: "+what, "path", rq.URL.Path, "error", err.Error())
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusInternalServerError, upperFirst(err.Error())+".")
	default:
		s.failed(rq, what, err)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
