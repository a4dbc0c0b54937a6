package dashboard

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// rowsAsTemplate is the template the rows of the Secrets page were
// written with, kept as the reference secretRowsHTML must match byte for
// byte, escaping included.
const rowsAsTemplate = `
      {{- range .Rows}}
      <tr id="secret-{{.Name}}" class="secret">
        <td><code class="name">{{.Name}}</code>{{if .Restart}} <span class="badge restart" title="Applications must restart to use a new value">restart</span>{{end}}{{if .Terraform}} <span class="badge terraform" title="Last written by Terraform: a change here shows as drift">Terraform</span>{{end}}</td>
        <td>{{.Description}}</td>
        <td>{{wbr .Meta.UpdatedBy}}<br><span class="muted"><span class="nowrap">{{time .Meta.UpdatedAt}}</span> · revision {{.Meta.Revision}}</span></td>
        <td><code class="kid">{{.Meta.KID}}</code></td>
        <td class="actions">
          <a class="history" href="/secrets/{{$.Data.Project}}/{{.Name}}/history">History</a>
          {{- if $.Data.CanWrite}}<a class="change" href="/secrets/{{$.Data.Project}}/{{.Name}}/edit">Change</a>{{end}}
          {{- if $.Data.CanReveal}}<form method="post" action="/secrets/{{$.Data.Project}}/{{.Name}}/reveal" class="reveal"><button type="submit" class="link">Reveal</button></form>{{end}}
          {{- if $.Data.CanDelete}}<a class="delete danger" href="/secrets/{{$.Data.Project}}/{{.Name}}/delete">Delete</a>{{end}}
        </td>
      </tr>
      {{- end}}`

func TestSecretRowsAreTheTemplatesBytesWithEveryValueEscaped(t *testing.T) {
	hostile := `<script>alert("x" + 'y')</script> & <img src=x onerror=alert(1)>` + "\x00"
	rows := []secretRow{
		{Name: "PLAIN_TOKEN", Description: "an ordinary one", Meta: store.SecretMeta{
			UpdatedBy: "dashboard:alice@example.com", UpdatedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600)), Revision: 3, KID: "261123-Ab3x"}},
		{Name: "my.secret-1_x", Description: hostile, Restart: true, Terraform: true, Meta: store.SecretMeta{
			UpdatedBy: `"><b>ops</b>:a@b` + hostile, Revision: 1, KID: `kid"><script>`}},
		{Name: "EMPTY", Meta: store.SecretMeta{}},
	}
	ref := template.Must(template.New("rows").Funcs(templateFuncs).Parse(rowsAsTemplate))
	for _, perms := range [][3]bool{{false, false, false}, {true, false, false}, {true, true, true}, {false, true, true}} {
		v := &secretsView{Project: "team.app-1", CanWrite: perms[0], CanReveal: perms[1], CanDelete: perms[2]}
		var want bytes.Buffer
		if err := ref.Execute(&want, struct {
			Rows []secretRow
			Data *secretsView
		}{rows, v}); err != nil {
			t.Fatal(err)
		}
		got := string(v.secretRowsHTML(rows))
		if got != want.String() {
			t.Errorf("permissions %v: rows differ from the template's\ngot:\n%s\nwant:\n%s", perms, got, want.String())
		}
		if strings.Contains(got, "<script") || strings.Contains(got, "<img") || strings.Contains(got, "<b>") || strings.Contains(got, "\x00") {
			t.Errorf("a value reached the page unescaped:\n%s", got)
		}
	}
}
