package dashboard

import (
	"net/http"
	"slices"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

type keysView struct {
	// OnProjectKeys is whether new values go under their project's key
	// (since Since), or still under the store-wide key until `pgsecrets
	// reencrypt` moves the store.
	OnProjectKeys bool
	Since         time.Time
	// ProjectKeys are the keys of the projects the account may see.
	ProjectKeys []store.ProjectKeyUsage
	// Store is `pgsecrets key status` without the project keys (listed
	// above it): root keys, data keys and unknown kids. It spans every
	// project, so only accounts that may see the store's keys get it.
	Store     []store.KeyUsage
	SeesStore bool
}

// keysPage shows, read-only, each project's keys to whoever may see the
// project, and the store's root and data keys (`pgsecrets key status`) to
// an admin of every project. Nothing on it is key material: the store's
// reads return none.
func (s *Server) keysPage(rq *request) {
	var v keysView
	var err error
	if v.Since, v.OnProjectKeys, err = rq.st.ProjectKeysSince(rq.Context()); err != nil {
		s.failed(rq, "read the store's key scheme", err)
		return
	}
	// The same projects the other pages show: the one asked for (already
	// checked), those an account is limited to, or every project.
	projects := []string{rq.project}
	if rq.project == "" {
		projects = slices.Sorted(slices.Values(rq.account.Projects))
		if len(projects) == 0 {
			projects = []string{""} // every project
		}
	}
	for _, p := range projects {
		keys, err := rq.st.ListProjectKeys(rq.Context(), p)
		if err != nil {
			s.failed(rq, "list project keys", err)
			return
		}
		v.ProjectKeys = append(v.ProjectKeys, keys...)
	}
	if v.SeesStore = may(rq.account, permSeeStoreKeys, "") && rq.project == ""; v.SeesStore {
		usage, err := rq.st.KeyUsage(rq.Context())
		if err != nil {
			s.failed(rq, "read key usage", err)
			return
		}
		v.Store = slices.DeleteFunc(usage, func(u store.KeyUsage) bool { return u.Kind == "project" })
	}
	s.renderPage(rq, http.StatusOK, "keys", "Keys", "keys", v)
}
