// Package catalog knows the well-known secrets that teams running AI
// assistants and integrations keep: their category, what they are for,
// the shape a real value has, and whether an application must restart to
// pick up a change. The CLI and the Terraform provider both read this one
// table, so a pasted wrong token is refused the same way everywhere.
//
// Validation errors name the expected shape and never the value.
package catalog

import (
	"fmt"
	"slices"
)

// Entry is one well-known secret.
type Entry struct {
	Name        string `json:"name"`
	Category    string `json:"category"`
	Description string `json:"description"`
	// Shape says, for a person, what a value looks like.
	Shape string `json:"shape"`
	// RequiresRestart is true when applications typically read the value
	// once at start-up (a connection, a signer, an OAuth client), so a
	// change only takes effect after a restart.
	RequiresRestart bool `json:"requires_restart"`

	check shape
}

// entries is the catalog, the one place it is written down. Keep it
// sorted by category, then name: `pgsecrets catalog` lists it in this order.
var entries = []Entry{
	{Name: "ANTHROPIC_API_KEY", Category: "ai", Description: "Anthropic API key (Claude)", check: prefix("sk-ant-")},
	{Name: "GOOGLE_AI_API_KEY", Category: "ai", Description: "Google AI (Gemini) API key", check: pattern("a Google API key: \"AIza\" followed by 35 letters, digits, '-' or '_'", `^AIza[0-9A-Za-z_-]{35}$`)},
	{Name: "OPENAI_API_KEY", Category: "ai", Description: "OpenAI API key", check: prefixNot("sk-", "sk-ant-", "an Anthropic key")},

	{Name: "GITHUB_APP_ID", Category: "github", Description: "GitHub App id", RequiresRestart: true, check: numericID()},
	{Name: "GITHUB_APP_PRIVATE_KEY", Category: "github", Description: "GitHub App private key, signs the app's JWTs", RequiresRestart: true, check: pemPrivateKey()},
	{Name: "GITHUB_TOKEN", Category: "github", Description: "GitHub personal access, OAuth, app or fine-grained token", check: pattern("a GitHub token: \"ghp_\", \"gho_\", \"ghu_\", \"ghs_\" or \"ghr_\" and at least 36 letters or digits, or \"github_pat_\" and at least 22 letters, digits or '_'", `^(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})$`)},

	{Name: "GOOGLE_OAUTH_CLIENT_ID", Category: "google", Description: "Google OAuth 2.0 client id", RequiresRestart: true, check: pattern("a Google OAuth client id: digits, '-', an id, then \".apps.googleusercontent.com\"", `^[0-9]+-[0-9A-Za-z_]+\.apps\.googleusercontent\.com$`)},
	{Name: "GOOGLE_OAUTH_CLIENT_SECRET", Category: "google", Description: "Google OAuth 2.0 client secret", RequiresRestart: true, check: pattern("a Google OAuth client secret: \"GOCSPX-\" and 28 letters, digits, '-' or '_' (or a legacy 24-character secret)", `^(GOCSPX-[A-Za-z0-9_-]{28}|[A-Za-z0-9_-]{24})$`)},

	{Name: "JIRA_API_TOKEN", Category: "jira", Description: "Atlassian API token for JIRA", check: pattern("an Atlassian API token: \"ATATT\" and letters, digits, '_', '-' or '=' (or a legacy 24-character token)", `^(ATATT[A-Za-z0-9_=-]{20,}|[A-Za-z0-9]{24})$`)},
	{Name: "JIRA_BASE_URL", Category: "jira", Description: "JIRA site URL, e.g. https://example.atlassian.net", RequiresRestart: true, check: httpsURL()},
	{Name: "JIRA_EMAIL", Category: "jira", Description: "email of the account the JIRA API token belongs to", check: email()},

	{Name: "SLACK_APP_TOKEN", Category: "slack", Description: "Slack app-level token (Socket Mode)", RequiresRestart: true, check: prefix("xapp-")},
	{Name: "SLACK_BOT_TOKEN", Category: "slack", Description: "Slack bot user OAuth token", RequiresRestart: true, check: prefix("xoxb-")},
	{Name: "SLACK_SIGNING_SECRET", Category: "slack", Description: "Slack signing secret, verifies requests from Slack", RequiresRestart: true, check: pattern("a Slack signing secret: 32 lowercase hexadecimal digits", `^[0-9a-f]{32}$`)},
	{Name: "SLACK_USER_TOKEN", Category: "slack", Description: "Slack user OAuth token", check: prefix("xoxp-")},

	{Name: "WHATSAPP_ACCESS_TOKEN", Category: "whatsapp", Description: "WhatsApp Cloud API (Meta Graph) access token", check: pattern("a Meta access token: \"EAA\" followed by letters and digits", `^EAA[A-Za-z0-9]{20,}$`)},
}

var byName = func() map[string]*Entry {
	m := make(map[string]*Entry, len(entries))
	for i := range entries {
		e := &entries[i]
		if _, dup := m[e.Name]; dup {
			panic("catalog: " + e.Name + " is listed twice")
		}
		e.Shape = e.check.describe
		m[e.Name] = e
	}
	return m
}()

// All returns the catalog, ordered by category then name.
func All() []Entry { return slices.Clone(entries) }

// Lookup returns the well-known secret called name.
func Lookup(name string) (Entry, bool) {
	e, ok := byName[name]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// ShapeError is a value that does not have its well-known shape. It holds
// the name and the expected shape only, never the value.
type ShapeError struct {
	Name  string
	Shape string
	// Reason, when set, says more precisely what is wrong, without quoting
	// the value (e.g. "it has leading or trailing whitespace").
	Reason string
}

func (e *ShapeError) Error() string {
	msg := fmt.Sprintf("the value of %s does not look like %s", e.Name, e.Shape)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Validate checks value against the shape of the well-known secret called
// name, returning a *ShapeError if it does not fit. Names outside the
// catalog are not checked.
func Validate(name, value string) error {
	e, ok := byName[name]
	if !ok {
		return nil
	}
	if reason, ok := e.check.fits(value); !ok {
		return &ShapeError{Name: name, Shape: e.Shape, Reason: reason}
	}
	return nil
}

// DefaultCategory is the catalog's category for name, or "" for a name
// outside the catalog.
func DefaultCategory(name string) string {
	if e, ok := byName[name]; ok {
		return e.Category
	}
	return ""
}

// RequiresRestart is the catalog's restart notice for name; false for a
// name outside the catalog.
func RequiresRestart(name string) bool {
	if e, ok := byName[name]; ok {
		return e.RequiresRestart
	}
	return false
}
