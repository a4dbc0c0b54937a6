package dashboard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// permission is what one page or action needs. Every route names one (see
// routes), and check is the one place that decides.
type permission struct {
	// what completes "Cannot ...", e.g. "reveal secrets".
	what string
	// role is the least role that may.
	role string
	// everyProject means an account limited to some projects may not,
	// whatever its role: the page spans every project (keys, accounts).
	everyProject bool
}

var (
	permSignedIn      = permission{what: "do this", role: store.RoleViewer}
	permSeeSecrets    = permission{what: "see secrets", role: store.RoleViewer}
	permWriteSecrets  = permission{what: "add or change secrets", role: store.RoleEditor}
	permRevealSecrets = permission{what: "reveal secrets", role: store.RoleAdmin}
	permDeleteSecrets = permission{what: "delete secrets", role: store.RoleAdmin}
	// Restoring writes a value the secret once had, like a change: an
	// editor's, and undoable by another rollback.
	permRestoreSecrets   = permission{what: "roll back or undelete secrets", role: store.RoleEditor}
	permAckRestart       = permission{what: "mark an application restarted", role: store.RoleEditor}
	permSeeModelDefaults = permission{what: "see model defaults", role: store.RoleViewer}
	permSetModelDefaults = permission{what: "change model defaults", role: store.RoleAdmin}
	permSeeAudit         = permission{what: "see the audit trail", role: store.RoleViewer}
	permExportAudit      = permission{what: "download the audit trail", role: store.RoleViewer}
	permVerifyAudit      = permission{what: "verify the audit chain", role: store.RoleAdmin}
	// A project's keys are metadata of the project, like its audit events
	// (which name them); the root and data keys span every project.
	permSeeKeys        = permission{what: "see keys", role: store.RoleViewer}
	permSeeStoreKeys   = permission{what: "see the root and data keys", role: store.RoleAdmin, everyProject: true}
	permManageAccounts = permission{what: "manage accounts", role: store.RoleAdmin, everyProject: true}
)

// roleRank orders the roles: each may do what the ones before it may.
func roleRank(role string) int { return slices.Index(store.Roles, role) }

// forbiddenError is a refusal, worded for the person refused.
type forbiddenError struct{ msg string }

func (e *forbiddenError) Error() string { return e.msg }

// check decides whether a may use p, in project when it is not empty.
func (p permission) check(a store.Account, project string) error {
	if roleRank(a.Role) < roleRank(p.role) {
		need := map[string]string{store.RoleViewer: "a viewer, editor or admin", store.RoleEditor: "an editor or admin", store.RoleAdmin: "an admin"}[p.role]
		return &forbiddenError{fmt.Sprintf("Cannot %s: ensure you are signed in as %s (%s is %s).", p.what, need, a.Email, withArticle(a.Role))}
	}
	if p.everyProject && len(a.Projects) > 0 {
		return &forbiddenError{fmt.Sprintf("Cannot %s: this page spans every project, and your account is limited to %s.", p.what, strings.Join(a.Projects, ", "))}
	}
	if project != "" && !a.MayAccess(project) {
		return &forbiddenError{fmt.Sprintf("Cannot %s in project %s: your account is limited to %s.", p.what, project, strings.Join(a.Projects, ", "))}
	}
	return nil
}

// may reports whether a may use p in project, for pages deciding which
// buttons to show; the route's check is what enforces it.
func may(a store.Account, p permission, project string) bool { return p.check(a, project) == nil }

// visibleProjects keeps the projects a may see.
func visibleProjects(a store.Account, all []string) []string {
	if len(a.Projects) == 0 {
		return all
	}
	// An account limited to projects sees them even before they hold
	// anything, so an editor can fill an empty project.
	out := slices.Clone(a.Projects)
	slices.Sort(out)
	return out
}

// withArticle is "a viewer", "an editor", "an admin".
func withArticle(role string) string {
	if role == store.RoleViewer {
		return "a " + role
	}
	return "an " + role
}
