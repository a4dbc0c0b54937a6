package dashboard

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func TestBrowserSignIn(t *testing.T) {
	e := newEnv(t)
	e.account("alice@example.com", store.RoleEditor)
	e.put("app", "SLACK_BOT_TOKEN", "xoxb-1-2")
	tb := e.openTab()

	// Any page sends a stranger to the sign-in form.
	if status := tb.open("/audit"); status != http.StatusOK || tb.path() != "/signin" {
		t.Fatalf("a stranger opening /audit: %d at %s", status, tb.path())
	}
	tb.fill("#email", "alice@example.com")
	tb.fill("#password", "not the password at all")
	if status := tb.click("#signin-submit"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", status)
	}
	if got := tb.text("#form-error"); got != signInFailed {
		t.Fatalf("wrong password: %q", got)
	}
	if tb.value("#email") != "" || tb.value("#password") != "" {
		t.Error("the sign-in form came back filled")
	}

	tb.signIn("alice@example.com")
	if got := tb.text("#signed-in-as"); got != "alice@example.com editor" {
		t.Errorf("signed in as %q", got)
	}
	if tb.path() != "/secrets" || tb.count("tr#secret-SLACK_BOT_TOKEN.secret") != 1 {
		t.Fatalf("after sign-in:\n%s", tb.where())
	}
	if tabs := tb.texts("nav a"); strings.Join(tabs, ",") != "Secrets,Model defaults,Audit,Keys" {
		t.Errorf("an editor's tabs: %q", tabs)
	}
}

func TestBrowserSignOut(t *testing.T) {
	e := newEnv(t)
	e.account("alice@example.com", store.RoleViewer)
	tb := e.openTab()
	tb.signIn("alice@example.com")

	if status := tb.click("form#signout button"); status != http.StatusOK || tb.path() != "/signin?done=signed-out" {
		t.Fatalf("sign out: %d at %s", status, tb.path())
	}
	if got := tb.text("#notice"); got != "You are signed out." {
		t.Errorf("notice after sign-out: %q", got)
	}
	// The session is over on the server too: going back to a page asks to
	// sign in again.
	if tb.open("/secrets"); tb.path() != "/signin" || tb.count("#signed-in-as") != 0 {
		t.Fatalf("after sign-out, /secrets shows:\n%s", tb.where())
	}
	if got := e.query("select count(*) from dashboard_sessions"); got != "0" {
		t.Errorf("%s sessions left after sign-out", got)
	}
}

func TestBrowserExpiredSessionSendsToSignIn(t *testing.T) {
	const idle = 2 * time.Second
	e := newEnv(t, func(c *Config) { c.Sessions = store.SessionTimeouts{Idle: idle, Absolute: time.Hour} })
	e.account("alice@example.com", store.RoleEditor)
	e.account("bob@example.com", store.RoleEditor)
	e.put("app", "K", "v")
	// Alice has a page open, Bob a form; both leave them for longer than
	// the idle timeout.
	alice, bob := e.openTab(), e.openTab()
	alice.signIn("alice@example.com")
	bob.signIn("bob@example.com")
	bob.click("tr#secret-K a.change")
	if bob.count("form#secret-form") != 1 {
		t.Fatalf("the change form:\n%s", bob.where())
	}
	time.Sleep(idle + 500*time.Millisecond)

	// The next page is the sign-in form.
	if status := alice.click("#tab-audit"); status != http.StatusOK || alice.path() != "/signin" || alice.count("form#signin-form") != 1 {
		t.Fatalf("after %s idle, the audit tab: %d\n%s", idle, status, alice.where())
	}
	// A form sent after the timeout is refused, and changes nothing.
	before := e.snapshot()
	bob.fill("#value", "new value")
	if status := bob.click("#save"); status != http.StatusUnauthorized || !strings.Contains(bob.text("#error-message"), "your session has ended") {
		t.Fatalf("saving after the idle timeout: %d\n%s", status, bob.where())
	}
	if e.snapshot() != before {
		t.Fatal("a form sent after the session ended changed something")
	}
	if bob.click("#error a"); bob.path() != "/signin" {
		t.Errorf("the error page's link leads to %s", bob.path())
	}
}
