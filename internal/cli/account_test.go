package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

const testPassword = "correct horse battery staple"

func TestAccountAddListAndAuditWithoutThePassword(t *testing.T) {
	s := newSession(t)
	r := s.mustRun(testPassword+"\n", "account", "add", "--email", "Alice@Example.com", "--role", "admin")
	if r.stdout != "Created account alice@example.com (admin, every project)\n" {
		t.Fatalf("account add:\n%s", r)
	}
	s.terminal = true
	r = s.mustRun(testPassword+"-bob\n"+testPassword+"-bob\n", "account", "add", "--email", "bob@example.com", "--role", "editor", "--projects", "billing,support")
	if r.stdout != "Created account bob@example.com (editor, projects billing, support)\n" ||
		!strings.Contains(r.stderr, "Password for bob@example.com: ") || !strings.Contains(r.stderr, "Same password again: ") {
		t.Fatalf("account add at a terminal:\n%s", r)
	}
	s.terminal = false

	r = s.mustRun("", "account", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "EMAIL") ||
		!strings.Contains(lines[1], "alice@example.com") || !strings.Contains(lines[1], "*") ||
		!strings.Contains(lines[2], "billing,support") || !strings.Contains(lines[2], "active") {
		t.Fatalf("account list:\n%s", r)
	}
	r = s.mustRun("", "account", "list", "--output", "json")
	var accounts []struct {
		Email    string   `json:"email"`
		Role     string   `json:"role"`
		Projects []string `json:"projects"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &accounts); err != nil || len(accounts) != 2 || accounts[1].Role != "editor" || len(accounts[1].Projects) != 2 {
		t.Fatalf("account list json: %+v, %v", accounts, err)
	}
	if strings.Contains(r.stdout, "argon2") {
		t.Fatal("account list shows the password hash")
	}

	r = s.mustRun("", "audit", "export", "--action", "account.create")
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, `"subject":"bob@example.com"`) || !strings.Contains(r.stdout, `\"role\":\"editor\"`) {
		t.Fatalf("account.create events:\n%s", r)
	}
	all := s.mustRun("", "audit", "export")
	if strings.Contains(all.stdout, "horse") || strings.Contains(all.stdout, "argon2") {
		t.Fatal("the audit trail holds a password or its hash")
	}
}

func TestAccountAddRefusesShortPasswordsDuplicatesAndBadFlags(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("short-pw\n", "account", "add", "--email", "a@example.com", "--role", "viewer"), 1,
		"the password has 8 characters: use at least 12; nothing was changed")
	wantFailure(t, s.run("\n", "account", "add", "--email", "a@example.com", "--role", "viewer"), 1, "no password given")
	s.terminal = true
	if r := s.run(testPassword+"\n"+testPassword+"!\n", "account", "add", "--email", "a@example.com", "--role", "viewer"); r.code != 1 || !strings.HasSuffix(r.stderr, "Error: the two passwords differ; nothing was changed\n") {
		t.Fatalf("passwords that differ:\n%s", r)
	}
	s.terminal = false
	wantFailure(t, s.run(testPassword, "account", "add", "--email", "a@example.com", "--role", "owner"), 2, `role "owner" is not valid`)
	wantFailure(t, s.run(testPassword, "account", "add", "--email", "not-an-email", "--role", "viewer"), 2, `email "not-an-email" is not valid`)
	wantFailure(t, s.run(testPassword, "account", "add", "--email", "a@example.com"), 2, "--role is required")
	wantFailure(t, s.run(testPassword, "account", "add", "--email", "a@example.com", "--role", "viewer", "--projects", "bad project"), 2, "--projects")
	if r := s.mustRun("", "account", "list"); r.stdout != "" {
		t.Fatalf("accounts were created:\n%s", r)
	}
	s.mustRun(testPassword, "account", "add", "--email", "a@example.com", "--role", "viewer")
	wantFailure(t, s.run(testPassword, "account", "add", "--email", "A@example.com", "--role", "admin"), 1, `account "a@example.com" already exists`)
	for _, r := range []result{s.run("short-pw\n", "account", "add", "--email", "b@example.com", "--role", "viewer")} {
		if strings.Contains(r.stderr, "short-pw") {
			t.Fatalf("an error quotes the password:\n%s", r)
		}
	}
}

func TestAccountDisableResetAndRemove(t *testing.T) {
	s := newSession(t)
	s.mustRun(testPassword, "account", "add", "--email", "bob@example.com", "--role", "editor")
	hash := func() string {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), s.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var h string
		if err := conn.QueryRow(context.Background(), "select password_hash from pgsecrets.dashboard_accounts where email = 'bob@example.com'").Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hash()
	if !strings.HasPrefix(before, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("stored hash %q", before)
	}

	r := s.mustRun("", "account", "disable", "--email", "BOB@example.com")
	if r.stdout != "Disabled account bob@example.com; its sessions have ended.\n" {
		t.Fatalf("disable:\n%s", r)
	}
	if r := s.mustRun("", "account", "list"); !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("list after disable:\n%s", r)
	}
	if r := s.mustRun("", "account", "enable", "--email", "bob@example.com"); r.stdout != "Enabled account bob@example.com.\n" {
		t.Fatalf("enable:\n%s", r)
	}
	r = s.mustRun(testPassword+"-new\n", "account", "reset-password", "--email", "bob@example.com")
	if r.stdout != "Set a new password for bob@example.com; 0 session(s) ended.\n" || hash() == before {
		t.Fatalf("reset-password:\n%s", r)
	}
	wantFailure(t, s.run(testPassword, "account", "reset-password", "--email", "nobody@example.com"), 1, `account "nobody@example.com" not found`)
	wantFailure(t, s.run("", "account", "remove", "--email", "bob@example.com"), 2, "without confirmation")
	s.terminal = true
	if r := s.run("n\n", "account", "remove", "--email", "bob@example.com"); r.code != 1 || !strings.HasSuffix(r.stderr, "Error: account bob@example.com was not removed: not confirmed\n") {
		t.Fatalf("remove not confirmed:\n%s", r)
	}
	s.terminal = false
	if r := s.mustRun("", "account", "remove", "--email", "bob@example.com", "--yes"); r.stdout != "Removed account bob@example.com.\n" {
		t.Fatalf("remove:\n%s", r)
	}
	wantFailure(t, s.run("", "account", "disable", "--email", "bob@example.com"), 1, "not found")

	r = s.mustRun("", "audit", "export", "--format", "csv")
	for _, action := range []string{"account.create", "account.disable", "account.enable", "account.password", "account.delete"} {
		if !strings.Contains(r.stdout, ","+action+",") {
			t.Errorf("no %s event:\n%s", action, r.stdout)
		}
	}
}
