package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// fakeHash is an argon2id PHC string: the store checks the format only,
// hashing is internal/password's job.
const fakeHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"

func createAccount(t *testing.T, s *store.Store, email, role string, projects ...string) store.Account {
	t.Helper()
	a, err := s.CreateAccount(context.Background(), store.NewAccount{Email: email, Role: role, Projects: projects, PasswordHash: fakeHash})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// auditOf returns the events with action, oldest first.
func auditOf(t *testing.T, s *store.Store, action string) []audit.Event {
	t.Helper()
	events, err := s.AuditEvents(context.Background(), store.AuditFilter{Action: action}, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	return events
}

func TestAccountEmailIsCaseInsensitiveAndUnique(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	a := createAccount(t, s, " Alice@Example.COM ", store.RoleEditor, "billing", "billing", "support")
	if a.Email != "alice@example.com" || a.Role != "editor" || strings.Join(a.Projects, ",") != "billing,support" || a.CreatedBy != "tester" {
		t.Fatalf("created %+v", a)
	}
	_, err := s.CreateAccount(ctx, store.NewAccount{Email: "ALICE@example.com", Role: store.RoleViewer, PasswordHash: fakeHash})
	var exists *store.AccountExistsError
	if !errors.As(err, &exists) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second account with another case: %v", err)
	}
	got, err := s.GetAccount(ctx, "alice@EXAMPLE.com")
	if err != nil || got.ID != a.ID {
		t.Fatalf("GetAccount in another case = %+v, %v", got, err)
	}
	if _, err := s.GetAccount(ctx, "bob@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	events := auditOf(t, s, audit.ActionAccountCreate)
	if len(events) != 1 || events[0].Subject != "alice@example.com" || events[0].Details != `{"projects":["billing","support"],"role":"editor"}` {
		t.Fatalf("account.create events: %+v", events)
	}
}

func TestCreateAccountRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	for _, in := range []store.NewAccount{
		{Email: "not an email", Role: "viewer", PasswordHash: fakeHash},
		{Email: "Alice <a@example.com>", Role: "viewer", PasswordHash: fakeHash},
		{Email: "a@example.com", Role: "owner", PasswordHash: fakeHash},
		{Email: "a@example.com", Role: "viewer", Projects: []string{"bad project"}, PasswordHash: fakeHash},
		{Email: "a@example.com", Role: "viewer", PasswordHash: "hunter2hunter2"},
	} {
		if _, err := s.CreateAccount(ctx, in); err == nil {
			t.Errorf("CreateAccount(%+v) succeeded", in)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error quotes the hash: %v", err)
		}
	}
	if accounts, _ := s.ListAccounts(ctx); len(accounts) != 0 {
		t.Fatalf("accounts created: %+v", accounts)
	}
}

func TestDisablingOrResettingAnAccountEndsItsSessions(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	a := createAccount(t, s, "a@example.com", store.RoleAdmin)
	other := createAccount(t, s, "b@example.com", store.RoleViewer)
	start := func(acct store.Account, token string) {
		t.Helper()
		if _, err := s.StartSession(ctx, acct, token, store.SessionTimeouts{Idle: time.Hour, Absolute: time.Hour}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	start(a, "token-a1")
	start(a, "token-a2")
	start(other, "token-b")

	d, err := s.SetAccountDisabled(ctx, "A@example.com", true)
	if err != nil || !d.Disabled {
		t.Fatalf("disable: %+v, %v", d, err)
	}
	for _, tok := range []string{"token-a1", "token-a2"} {
		if _, err := s.SessionByToken(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session of a disabled account still live: %v", err)
		}
	}
	if _, err := s.SessionByToken(ctx, "token-b"); err != nil {
		t.Fatalf("another account's session ended: %v", err)
	}
	if _, err := s.SetAccountDisabled(ctx, "a@example.com", false); err != nil {
		t.Fatal(err)
	}
	start(a, "token-a3")
	n, err := s.SetAccountPassword(ctx, "a@example.com", fakeHash)
	if err != nil || n != 1 {
		t.Fatalf("reset password ended %d sessions, %v", n, err)
	}
	if _, err := s.SessionByToken(ctx, "token-a3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session survived a password reset: %v", err)
	}
	if err := s.DeleteAccount(ctx, "b@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, "token-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session survived its account: %v", err)
	}
	if err := s.DeleteAccount(ctx, "b@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	for action, want := range map[string]string{
		audit.ActionAccountDisable:  `{"sessions_ended":2}`,
		audit.ActionAccountEnable:   `{}`,
		audit.ActionAccountPassword: `{"sessions_ended":1}`,
		audit.ActionAccountDelete:   `{"role":"viewer"}`,
	} {
		events := auditOf(t, s, action)
		if len(events) != 1 || events[0].Details != want {
			t.Errorf("%s events: %+v, want one with %s", action, events, want)
		}
	}
}
