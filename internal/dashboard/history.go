package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

type historyView struct {
	Project string
	Name    string
	// Versions are the revisions kept, newest first, without values.
	Versions []store.SecretVersion
	// Current is the live revision; nil when the secret is deleted.
	Current *store.SecretMeta
	// Deleted is what an undelete brings back, when the secret is deleted
	// and its window is open.
	Deleted    *store.DeletedSecret
	Terraform  bool
	CanRestore bool
}

// historyPage lists a secret's revisions as `pgsecrets secret history`
// does: who wrote each, when, under which key, never a value. Editors may
// roll back to one, or undelete a deleted secret.
func (s *Server) historyPage(rq *request) {
	ctx := rq.Context()
	name := rq.PathValue("name")
	versions, err := rq.st.SecretHistory(ctx, rq.project, name)
	if err != nil {
		s.storeError(rq, "read secret history", err)
		return
	}
	v := historyView{Project: rq.project, Name: name, Versions: versions, CanRestore: may(rq.account, permRestoreSecrets, rq.project)}
	if versions[0].Current {
		meta, err := rq.st.GetSecretMeta(ctx, rq.project, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.storeError(rq, "read secret", err)
			return
		}
		if err == nil {
			v.Current, v.Terraform = &meta, meta.UpdatedVia == store.ChannelTerraform
		}
	}
	if v.Current == nil {
		deleted, err := rq.st.ListDeletedSecrets(ctx, rq.project)
		if err != nil {
			s.storeError(rq, "list deleted secrets", err)
			return
		}
		for i := range deleted {
			if deleted[i].Name == name {
				v.Deleted = &deleted[i]
			}
		}
	}
	p := s.pageFor(rq, "History of "+name, "secrets")
	p.Notice = historyNotice(rq.URL.Query())
	s.render(rq.w, rq.Request, http.StatusOK, "history", p, v)
}

// historyNotice says what the rollback that redirected here did; only
// numbers are taken from the query, which is anyone's to write.
func historyNotice(q url.Values) string {
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	rev, err2 := strconv.ParseInt(q.Get("revision"), 10, 64)
	if q.Get("done") != "rolledback" || err1 != nil || err2 != nil {
		return ""
	}
	return fmt.Sprintf("Rolled back to the value of revision %d, now revision %d.", from, rev)
}

// rollbackSecret writes an earlier revision's value as a new revision,
// through store.RollbackSecret as `secret rollback` does: the one write
// path, compare-and-swap on the revision the history page showed, and the
// audit event naming both revisions.
func (s *Server) rollbackSecret(rq *request) {
	name := rq.PathValue("name")
	to, err1 := strconv.ParseInt(rq.PostFormValue("to_revision"), 10, 64)
	expected, err2 := strconv.ParseInt(rq.PostFormValue("expected_revision"), 10, 64)
	if err1 != nil || err2 != nil || to < 1 || expected < 1 {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusBadRequest, "The form is incomplete (no revision); reload the history page and try again.")
		return
	}
	if to == expected {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusConflict, fmt.Sprintf("%s is already at revision %d; nothing was written.", name, to))
		return
	}
	meta, err := rq.st.RollbackSecret(rq.Context(), rq.project, name, to, expected)
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusConflict,
			fmt.Sprintf("%s was changed by someone else meanwhile (now revision %d, you saw revision %d); nothing was written. Review its history and roll back again.", name, conflict.Current, expected))
		return
	}
	if err != nil {
		s.storeError(rq, "roll back secret", err)
		return
	}
	http.Redirect(rq.w, rq.Request, historyPath(rq.project, name)+"?"+url.Values{
		"done": {"rolledback"}, "from": {strconv.FormatInt(to, 10)}, "revision": {strconv.FormatInt(meta.Revision, 10)},
	}.Encode(), http.StatusSeeOther)
}

// undeleteSecret brings a deleted secret back through
// store.UndeleteSecret, as `secret undelete` does.
func (s *Server) undeleteSecret(rq *request) {
	name := rq.PathValue("name")
	if _, err := rq.st.GetSecretMeta(rq.Context(), rq.project, name); err == nil {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusConflict,
			fmt.Sprintf("%s exists (brought back by someone else meanwhile, or never deleted); nothing was written. Its history can roll it back to an earlier value.", name))
		return
	}
	meta, err := rq.st.UndeleteSecret(rq.Context(), rq.project, name)
	var conflict *store.ConflictError
	if errors.As(err, &conflict) {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusConflict,
			fmt.Sprintf("%s was brought back by someone else meanwhile (now revision %d); nothing was written.", name, conflict.Current))
		return
	}
	if err != nil {
		s.storeError(rq, "undelete secret", err)
		return
	}
	http.Redirect(rq.w, rq.Request, "/secrets?"+url.Values{
		"project": {rq.project}, "done": {"undeleted"}, "name": {name}, "revision": {strconv.FormatInt(meta.Revision, 10)},
	}.Encode(), http.StatusSeeOther)
}

func historyPath(project, name string) string {
	return "/secrets/" + url.PathEscape(project) + "/" + url.PathEscape(name) + "/history"
}
