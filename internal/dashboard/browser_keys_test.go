package dashboard

import (
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestBrowserKeysTabShowsAViewerItsProjectsKeys(t *testing.T) {
	e := newEnv(t)
	e.put("app", "K", "v")
	e.put("app", "K", "v2")
	e.put("billing", "K", "v")
	e.account("v@example.com", store.RoleViewer, "app")
	tb := e.openTab()
	tb.signIn("v@example.com")

	tb.click("#tab-keys")
	if got := tb.text("#key-scheme"); !strings.HasPrefix(got, "Each project's new values are encrypted with that project's own key") {
		t.Errorf("the store's key scheme reads %q", got)
	}
	app := e.projectKID("app")
	row := strings.Split(tb.text("tr#project-key-"+app), "\t")
	if len(row) != 7 || row[0] != "app" || row[1] != app || row[2] != "primary" || row[3] != "root-1" || row[4] != "just now" || row[5] != "1" || row[6] != "1" {
		t.Errorf("app's key reads %q: want its project, kid, state, root key, age, secrets and versions", row)
	}
	if n := tb.count("table#project-keys-table tbody tr"); n != 1 || tb.count("table#keys-table") != 0 || strings.Contains(tb.body(), e.projectKID("billing")) {
		t.Errorf("a viewer of app sees more than app's key:\n%s", tb.where())
	}
}
