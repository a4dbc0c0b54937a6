package dashboard

import "net/http"

// keysPage is `pgsecrets key status` as a table, read-only: which keys
// encrypt how many secrets, and how many ciphertexts are not fully bound.
func (s *Server) keysPage(rq *request) {
	usage, err := rq.st.KeyUsage(rq.Context())
	if err != nil {
		s.failed(rq, "read key usage", err)
		return
	}
	s.renderPage(rq, http.StatusOK, "keys", "Keys", "keys", usage)
}
