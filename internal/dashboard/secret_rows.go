package dashboard

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// The rows of the Secrets page's table are written here rather than by the
// template: html/template spends most of the page's time on them, through
// reflection and an escaper call for each of about fifteen values a row.
// The bytes are the template's: every value goes through the escaping the
// template gives its context (escapeHTML for text and attribute values,
// url.PathEscape then escapeHTML for a path in an attribute, as the
// template's normaliser leaves a project or secret name as it is).

// escapeHTML is html/template's escaping of a string in text or in a
// quoted attribute value, replacement for replacement.
var escapeHTML = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;").WriteString

// secretRowsHTML writes the table rows of a group of secrets, with the
// actions v's account may take.
func (v *secretsView) secretRowsHTML(rows []secretRow) template.HTML {
	var b strings.Builder
	b.Grow(len(rows) * 1200)
	for _, r := range rows {
		path := "/secrets/" + url.PathEscape(v.Project) + "/" + url.PathEscape(r.Name)
		b.WriteString("\n      <tr id=\"secret-")
		escapeHTML(&b, r.Name)
		b.WriteString("\" class=\"secret\">\n        <td><code class=\"name\">")
		escapeHTML(&b, r.Name)
		b.WriteString("</code>")
		if r.Restart {
			b.WriteString(` <span class="badge restart" title="Applications must restart to use a new value">restart</span>`)
		}
		if r.Terraform {
			b.WriteString(` <span class="badge terraform" title="Last written by Terraform: a change here shows as drift">Terraform</span>`)
		}
		b.WriteString("</td>\n        <td>")
		escapeHTML(&b, r.Description)
		b.WriteString("</td>\n        <td>")
		b.WriteString(string(breakOpportunities(r.Meta.UpdatedBy)))
		b.WriteString(`<br><span class="muted"><span class="nowrap">`)
		escapeHTML(&b, formatTime(r.Meta.UpdatedAt))
		b.WriteString("</span> · revision ")
		b.WriteString(strconv.FormatInt(r.Meta.Revision, 10))
		b.WriteString("</span></td>\n        <td><code class=\"kid\">")
		escapeHTML(&b, r.Meta.KID)
		b.WriteString("</code></td>\n        <td class=\"actions\">\n          <a class=\"history\" href=\"")
		escapeHTML(&b, path+"/history")
		b.WriteString(`">History</a>`)
		if v.CanWrite {
			b.WriteString(`<a class="change" href="`)
			escapeHTML(&b, path+"/edit")
			b.WriteString(`">Change</a>`)
		}
		if v.CanReveal {
			b.WriteString(`<form method="post" action="`)
			escapeHTML(&b, path+"/reveal")
			b.WriteString(`" class="reveal"><button type="submit" class="link">Reveal</button></form>`)
		}
		if v.CanDelete {
			b.WriteString(`<a class="delete danger" href="`)
			escapeHTML(&b, path+"/delete")
			b.WriteString(`">Delete</a>`)
		}
		b.WriteString("\n        </td>\n      </tr>")
	}
	// Every value above is escaped, and the markup is constant.
	return template.HTML(b.String())
}
