package dashboard

import (
	"net/http"
	"net/url"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

type accountsView struct {
	Accounts []store.Account
	Self     string
}

// accountsPage lists the accounts for an admin, who may disable, enable
// or sign out another; accounts are created with `pgsecrets account add`,
// where a password can be typed without passing through a browser form.
func (s *Server) accountsPage(rq *request) {
	accounts, err := rq.st.ListAccounts(rq.Context())
	if err != nil {
		s.failed(rq, "list accounts", err)
		return
	}
	p := s.pageFor(rq, "Accounts", "accounts")
	p.Notice = map[string]string{
		"disabled":   "Disabled the account and ended its sessions.",
		"enabled":    "Enabled the account.",
		"signed-out": "Ended the account's sessions.",
	}[rq.URL.Query().Get("done")]
	s.render(rq.w, rq.Request, http.StatusOK, "accounts", p, accountsView{Accounts: accounts, Self: rq.account.Email})
}

func (s *Server) disableAccount(rq *request) { s.changeAccount(rq, "disabled") }
func (s *Server) enableAccount(rq *request)  { s.changeAccount(rq, "enabled") }
func (s *Server) signOutAccount(rq *request) { s.changeAccount(rq, "signed-out") }

// changeAccount applies one admin action to another account. An admin
// cannot disable themselves here: locking the last admin out would need
// the CLI to undo.
func (s *Server) changeAccount(rq *request, done string) {
	email, err := store.NormalizeEmail(rq.PostFormValue("email"))
	if err != nil {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusBadRequest, upperFirst(err.Error())+".")
		return
	}
	if email == rq.account.Email && done == "disabled" {
		s.renderError(rq.w, rq.Request, &rq.account, http.StatusConflict,
			"You cannot disable your own account here; ask another admin, or run `pgsecrets account disable`. Nothing was changed.")
		return
	}
	switch done {
	case "disabled", "enabled":
		_, err = rq.st.SetAccountDisabled(rq.Context(), email, done == "disabled")
	default:
		var a store.Account
		if a, err = rq.st.GetAccount(rq.Context(), email); err == nil {
			_, err = rq.st.EndAccountSessions(rq.Context(), a)
		}
	}
	if err != nil {
		s.storeError(rq, "change account", err)
		return
	}
	http.Redirect(rq.w, rq.Request, "/accounts?"+url.Values{"done": {done}}.Encode(), http.StatusSeeOther)
}
