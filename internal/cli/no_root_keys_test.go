package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// Commands that read no value run where the root keys are not given (an
// auditor's laptop, a CI job checking for restarts, a pull request's plan
// job as the planner role): they show metadata and never a value.
func TestMetadataCommandsRunWithoutRootKeys(t *testing.T) {
	s := newSession(t)
	const value = "canary-no-root-keys-3f9a"
	s.mustRun(value, "secret", "add", "--project", "app", "--name", "API_TOKEN", "--requires-restart")
	s.mustRun(value+"-2", "secret", "add", "--project", "app", "--name", "API_TOKEN", "--yes")
	plannerURL := pgtest.NewRole(t, s.dbURL)
	role := strings.SplitN(strings.TrimPrefix(plannerURL, "postgres://"), ":", 2)[0]
	if r := s.mustRun("", "migrate", "up", "--grant-planner", role); !strings.Contains(r.stdout, "Granted role \""+role+"\" metadata reads for plans") {
		t.Fatalf("migrate up --grant-planner:\n%s", r)
	}
	s.keysFile = "" // and clearSettingsEnv left PGSECRETS_ROOT_KEYS(_FILE) empty

	for _, as := range []struct{ who, url string }{{"owner", s.dbURL}, {"planner role", plannerURL}} {
		s.dbURL = as.url
		for _, tc := range []struct {
			args []string
			want *regexp.Regexp
		}{
			{[]string{"secret", "list", "--project", "app"}, regexp.MustCompile(`(?m)^  API_TOKEN +2 `)},
			{[]string{"secret", "history", "--project", "app", "--name", "API_TOKEN"}, regexp.MustCompile(`(?m)^ *2 +.*\n *1 `)},
			{[]string{"key", "status"}, regexp.MustCompile(`(?m)^\S+ +root +registered +0 +0 +0 +0 +0 +1\n(.*\n)*app +pk-\S+ +primary +\S+ +\d+s +1 +1$`)},
			{[]string{"status", "--since", "1h"}, regexp.MustCompile(`(?m)^Restart needed: 1 secret\(s\).*\n(.*\n)*app +API_TOKEN `)},
			{[]string{"status"}, regexp.MustCompile(`(?m)^Restart pending for app:(.*\n)*.*API_TOKEN`)},
			{[]string{"migrate", "status"}, regexp.MustCompile(`up to date`)},
		} {
			r := s.run("", tc.args...)
			if r.code != 0 || r.stderr != "" || !tc.want.MatchString(r.stdout) {
				t.Errorf("pgsecrets %s as %s without root keys: want exit 0, stdout matching %s, nothing on stderr:\n%s", strings.Join(tc.args, " "), as.who, tc.want, r)
			}
			if strings.Contains(r.stdout+r.stderr, value) {
				t.Errorf("pgsecrets %s shows the secret's value:\n%s", strings.Join(tc.args, " "), r)
			}
		}
	}
}

func TestAuditExportWithoutRootKeysExportsAndWarnsItIsNotRecorded(t *testing.T) {
	s := newSession(t)
	const value = "canary-no-root-keys-7c1e"
	s.mustRun(value, "secret", "add", "--project", "app", "--name", "API_TOKEN")
	keys := s.keysFile
	s.keysFile = ""

	r := s.mustRun("", "audit", "export", "--project", "app")
	if !strings.Contains(r.stdout, `"action":"secret.create"`) || strings.Contains(r.stdout, value) {
		t.Errorf("export without root keys does not hold the secret's creation, or holds its value:\n%s", r)
	}
	want := "Warning: this export is not recorded in the audit trail: no root keys were given, and an audit event needs them\n"
	if r.stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", r.stderr, want)
	}

	// With root keys, the export's own event is the only audit.export.
	s.keysFile = keys
	r = s.mustRun("", "audit", "export", "--action", "audit.export")
	if n := strings.Count(r.stdout, "\n"); n != 1 || r.stderr != "" {
		t.Errorf("%d audit.export event(s), want only the one with root keys:\n%s", n, r)
	}
}

func TestSecretGetWithoutRootKeysStillFails(t *testing.T) {
	s := newSession(t)
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "A")
	s.keysFile = ""
	wantFailure(t, s.run("", "secret", "get", "--project", "app", "--name", "A"), 1, "Error: no root keys: set PGSECRETS_ROOT_KEYS")
}

// The planner role sees the project keys' metadata (never a wrapped key),
// and whether the store has moved to them.
func TestKeyStatusListsProjectKeysToThePlannerRole(t *testing.T) {
	s := newSession(t)
	s.mustRun("canary-planner-pk-1", "secret", "add", "--project", "app", "--name", "A")
	s.mustRun("canary-planner-pk-2", "secret", "add", "--project", "billing", "--name", "B")
	kid := s.rootKID()
	owner := s.pool()
	s.dbURL = storetest.RoleURL(t, s.dbURL, owner, "pgsecrets", store.GrantPlanner)
	s.keysFile = ""

	r := s.run("", "key", "status", "--project", "billing")
	want := regexp.MustCompile(`\APROJECT +KID +STATE +WRAPPED BY +AGE +SECRETS +VERSIONS\n` +
		`billing +pk-\S+ +primary +` + regexp.QuoteMeta(kid) + ` +\d+s +1 +0\n` +
		`Project keys: in use since .*\n\z`)
	if r.code != 0 || r.stderr != "" || !want.MatchString(r.stdout) {
		t.Errorf("key status --project billing as the planner role: want billing's key only:\n%s", r)
	}
	r = s.run("", "key", "status", "--output", "json")
	if r.code != 0 || strings.Count(r.stdout, `"kind": "project"`) != 2 || !strings.Contains(r.stdout, `"wrapping_kid": "`+kid+`"`) || strings.Contains(r.stdout, "wrapped_key") {
		t.Errorf("key status --output json as the planner role: want both project keys with their wrapping root, no wrapped key:\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "canary-planner-pk") {
		t.Errorf("key status shows a value:\n%s", r)
	}

	// A store upgraded with secrets from before project keys says what
	// moves it.
	storetest.MakeLegacy(t, owner, store.DefaultSchema)
	r = s.run("", "key", "status")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "Project keys: not yet; new values go under the first root key or the global primary data key until `pgsecrets reencrypt` moves the store (docs/rotation.md).\n") {
		t.Errorf("key status in a store not yet on project keys does not say so:\n%s", r)
	}
	r = s.run("", "key", "status", "--output", "json")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "[") || r.stderr != "Notice: Project keys: not yet; new values go under the first root key or the global primary data key until `pgsecrets reencrypt` moves the store (docs/rotation.md).\n" {
		t.Errorf("key status --output json in a store not yet on project keys: want the array on stdout and a notice on stderr:\n%s", r)
	}
}
