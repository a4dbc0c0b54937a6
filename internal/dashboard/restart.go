package dashboard

import (
	"net/http"
	"net/url"
)

// ackRestart records that the project's application was restarted, as
// `pgsecrets status --ack` does, audited under the account.
func (s *Server) ackRestart(rq *request) {
	if _, _, err := rq.st.AckRestart(rq.Context(), rq.project); err != nil {
		s.storeError(rq, "record restart", err)
		return
	}
	http.Redirect(rq.w, rq.Request, "/secrets?"+url.Values{"project": {rq.project}, "done": {"acked"}}.Encode(), http.StatusSeeOther)
}
