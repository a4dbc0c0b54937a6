package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// runInitCmd runs init against the session's database, with no root keys
// given but what args say.
func (s *session) runInitCmd(args ...string) result {
	s.t.Helper()
	return runCLI(s.t, "", false, append([]string{"--database-url", s.dbURL, "init"}, args...)...)
}

func (s *session) auditEvents() int {
	s.t.Helper()
	var n int
	if err := s.pool().QueryRow(s.t.Context(), "select count(*) from pgsecrets.audit_events").Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func TestInitSetsUpAnEmptyDatabaseThenChangesNothing(t *testing.T) {
	s := newUnmigratedSession(t)
	dir := t.TempDir()
	t.Chdir(dir)
	keyFile := filepath.Join(dir, "root-keys.json")

	r := s.runInitCmd()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("init on an empty database:\n%s", r)
	}
	content, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.ParseRootKeys(content)
	if err != nil || len(keys) != 1 {
		t.Fatalf("init wrote root keys %s: %v", content, err)
	}
	kid := keys[0].KID
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("root keys file mode %v, want 0600", fi.Mode().Perm())
	}
	latest := store.LatestVersion()
	for _, want := range []string{
		"Connected to database ",
		fmt.Sprintf("Created root keys file %s (mode 0600) with new key %s. Back it up", keyFile, kid),
		"Applied migration 1 (001_init.sql)\n",
		fmt.Sprintf("Schema pgsecrets is at version %d; registered root key(s) %s.\n", latest, kid),
		"\nExport these settings where you run pgsecrets:\n  export PGSECRETS_DATABASE_URL='" + s.dbURL + "'\n  export PGSECRETS_ROOT_KEYS_FILE='" + keyFile + "'\n",
		`printf %s "$TOKEN" | pgsecrets secret add --project app --name API_TOKEN`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init's output lacks %q:\n%s", want, r.stdout)
		}
	}

	// Again: it says so and changes nothing.
	events := s.auditEvents()
	r = s.runInitCmd()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("init again:\n%s", r)
	}
	for _, want := range []string{
		fmt.Sprintf("Using the existing root keys file %s (%s).\n", keyFile, kid),
		fmt.Sprintf("Already initialised: schema pgsecrets is at version %d and knows these root keys; nothing changed.\n", latest),
		"export PGSECRETS_ROOT_KEYS_FILE='" + keyFile + "'\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init again lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Applied") || strings.Contains(r.stdout, "Created") {
		t.Errorf("init again did something:\n%s", r.stdout)
	}
	if again, _ := os.ReadFile(keyFile); string(again) != string(content) {
		t.Error("init again changed the root keys file")
	}
	if n := s.auditEvents(); n != events {
		t.Errorf("init again wrote %d audit event(s)", n-events)
	}

	// The settings it printed are enough for the next command.
	t.Setenv(settings.EnvDatabaseURL, s.dbURL)
	t.Setenv(settings.EnvRootKeysFile, keyFile)
	if r := runCLI(t, "first-value", false, "secret", "add", "--project", "app", "--name", "API_TOKEN"); r.code != 0 {
		t.Fatalf("secret add with the exported settings:\n%s", r)
	}
}

func TestInitReportsAsJSON(t *testing.T) {
	s := newUnmigratedSession(t)
	keyFile := filepath.Join(t.TempDir(), "keys.json")
	r := s.runInitCmd("--key-file", keyFile, "--output", "json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("init --output json:\n%s", r)
	}
	var rep struct {
		Schema             string            `json:"schema"`
		Version            int32             `json:"version"`
		AlreadyInitialized bool              `json:"already_initialized"`
		RootKeysFile       string            `json:"root_keys_file"`
		RootKeysCreated    bool              `json:"root_keys_file_created"`
		RootKeys           []string          `json:"root_keys"`
		Applied            []migrationJSON   `json:"applied"`
		Registered         []string          `json:"registered_root_keys"`
		Env                map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if rep.Schema != "pgsecrets" || rep.Version != store.LatestVersion() || rep.AlreadyInitialized || rep.RootKeysFile != keyFile || !rep.RootKeysCreated ||
		len(rep.RootKeys) != 1 || len(rep.Applied) != int(store.LatestVersion()) || len(rep.Registered) != 1 || rep.Registered[0] != rep.RootKeys[0] ||
		rep.Env[settings.EnvRootKeysFile] != keyFile || rep.Env[settings.EnvDatabaseURL] != s.dbURL {
		t.Errorf("init --output json = %+v", rep)
	}
	r = s.runInitCmd("--key-file", keyFile, "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.AlreadyInitialized || rep.RootKeysCreated || len(rep.Applied) != 0 || len(rep.Registered) != 0 {
		t.Errorf("init again --output json = %+v (%v)", rep, err)
	}
}

func TestInitReusesAValidKeyFileAndRefusesABadOne(t *testing.T) {
	s := newUnmigratedSession(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"kty":"oct"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.runInitCmd("--key-file", bad)
	wantFailureAfterConnecting(t, r, "kid missing", "(from file "+bad+"); init changed nothing: fix the file, move it away, or pass --key-file")
	if st := s.mustRun("", "migrate", "status"); !strings.Contains(st.stdout, "is at version 0 of") {
		t.Errorf("a refused init migrated:\n%s", st)
	}

	// A valid file, made by key generate and named by --root-keys-file, is
	// used as it is.
	kid := s.rootKID()
	before, _ := os.ReadFile(s.keysFile)
	r = runCLI(t, "", false, "--database-url", s.dbURL, "--root-keys-file", s.keysFile, "init")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("Using the existing root keys file %s (%s).\n", s.keysFile, kid)) ||
		!strings.Contains(r.stdout, "registered root key(s) "+kid+".\n") {
		t.Fatalf("init with an existing key file:\n%s", r)
	}
	if after, _ := os.ReadFile(s.keysFile); string(after) != string(before) {
		t.Error("init rewrote an existing key file")
	}
	wantFailure(t, s.runInitCmd("--key-file", s.keysFile, "--root-keys-file", bad), 2, "--key-file and --root-keys-file name different files")
}

func TestInitNeverMakesANewKeyForADatabaseInUse(t *testing.T) {
	s := newSession(t)
	s.mustRun("v", "secret", "add", "--project", "app", "--name", "TOKEN")
	kid := s.rootKID()
	events := s.auditEvents()
	missing := filepath.Join(t.TempDir(), "root-keys.json")

	r := s.runInitCmd("--key-file", missing)
	wantFailureAfterConnecting(t, r, fmt.Sprintf("root keys file %s does not exist, and schema pgsecrets is in use with root key(s) %s; point --key-file at the file holding its root keys: init makes a new key only for a new database, and changed nothing", missing, kid))
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("init created %s for a database in use", missing)
	}

	// The environment naming the missing file changes nothing.
	t.Setenv(settings.EnvRootKeysFile, missing)
	wantFailureAfterConnecting(t, s.runInitCmd(), "does not exist, and schema pgsecrets is in use with root key(s) "+kid)

	// Another deployment's keys are refused before anything is written.
	other := s.generateKeysFile("other.json")
	r = s.runInitCmd("--key-file", other)
	if !strings.HasSuffix(r.stdout, "Using the existing root keys file "+other+" ("+s.keyring(other).RootKey().KID+").\n") {
		t.Errorf("init with another deployment's keys:\n%s", r)
	}
	r.stdout = ""
	wantFailure(t, r, 1, "is registered in this database, which knows "+fmt.Sprintf("%q", kid))

	// Its own keys: already initialised.
	r = s.runInitCmd("--key-file", s.keysFile)
	if r.code != 0 || !strings.Contains(r.stdout, "Already initialised") {
		t.Errorf("init with the deployment's keys:\n%s", r)
	}
	if n := s.auditEvents(); n != events {
		t.Errorf("init wrote %d audit event(s) to a database in use", n-events)
	}
}

func TestInitUsesRootKeysFromTheEnvironment(t *testing.T) {
	s := newUnmigratedSession(t)
	t.Chdir(t.TempDir())
	keys, err := os.ReadFile(s.keysFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(settings.EnvRootKeys, string(keys))
	r := s.runInitCmd()
	if r.code != 0 || r.stderr != "" ||
		!strings.Contains(r.stdout, fmt.Sprintf("Using the root keys in PGSECRETS_ROOT_KEYS (%s); no file written.\n", s.rootKID())) ||
		!strings.Contains(r.stdout, "Keep PGSECRETS_ROOT_KEYS set: the root keys come from it.\n") || strings.Contains(r.stdout, "PGSECRETS_ROOT_KEYS_FILE") {
		t.Fatalf("init with PGSECRETS_ROOT_KEYS:\n%s", r)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("init wrote files: %v", entries)
	}

	// With a key file as well, the variable would win later: init says so.
	r = s.runInitCmd("--key-file", s.keysFile)
	if want := "Warning: PGSECRETS_ROOT_KEYS is set, and pgsecrets reads it before PGSECRETS_ROOT_KEYS_FILE: unset it, so that later commands use " + s.keysFile + "\n"; r.code != 0 || r.stderr != want {
		t.Errorf("init --key-file with PGSECRETS_ROOT_KEYS set:\n%s\nwant stderr %q", r, want)
	}
}

func TestInitPrintsTheDatabaseURLWithoutItsPassword(t *testing.T) {
	s := newUnmigratedSession(t)
	u, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// The test server trusts local connections, so a password is ignored.
	u.User = url.UserPassword(u.User.Username(), "canary-pw-3c9d")
	r := runCLI(t, "", false, "--database-url", u.String(), "init", "--key-file", filepath.Join(t.TempDir(), "k.json"))
	if r.code != 0 {
		t.Fatalf("init:\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "canary") {
		t.Errorf("init printed the password:\n%s", r)
	}
	for _, want := range []string{
		"export PGSECRETS_DATABASE_URL='" + s.dbURL + "'\n",
		"The password was removed from the database URL: give it with PGPASSWORD or ~/.pgpass, or add it back to the URL.\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init's output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestWithoutPasswordKeepsEverythingElse(t *testing.T) {
	for conn, want := range map[string]struct {
		shown       string
		removed, ok bool
	}{
		"postgres://app@db/app?sslmode=verify-full":                     {"postgres://app@db/app?sslmode=verify-full", false, true},
		"postgres://app:s3cr%40t@db:5433/app?sslmode=verify-full":       {"postgres://app@db:5433/app?sslmode=verify-full", true, true},
		"postgresql://app@db/app?password=s3cret&sslmode=require":       {"postgresql://app@db/app?sslmode=require", true, true},
		"postgres://app:pw@h1:5432,h2:5432/app?target_session_attrs=rw": {"postgres://app@h1:5432,h2:5432/app?target_session_attrs=rw", true, true},
		"host=db dbname=app sslmode=verify-full":                        {"host=db dbname=app sslmode=verify-full", false, true},
		"host=db dbname=app password='s3 cret'":                         {"", false, false},
	} {
		shown, removed, ok := withoutPassword(conn)
		if ok != want.ok || removed != want.removed || ok && shown != want.shown {
			t.Errorf("withoutPassword(%q) = %q, %v, %v; want %q, %v, %v", conn, shown, removed, ok, want.shown, want.removed, want.ok)
		}
		if strings.Contains(shown, "s3") || strings.Contains(shown, "pw") {
			t.Errorf("withoutPassword(%q) shows the password: %q", conn, shown)
		}
	}
	if got := shellQuote("it's $HOME"); got != `'it'\''s $HOME'` {
		t.Errorf("shellQuote = %s", got)
	}
}

// wantFailureAfterConnecting is wantFailure for init, which says it
// connected before it fails.
func wantFailureAfterConnecting(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if !regexp.MustCompile(`^Connected to database \S+\.\n$`).MatchString(r.stdout) {
		t.Errorf("stdout %q, want only the connection line", r.stdout)
	}
	r.stdout = ""
	wantFailure(t, r, 1, fragments...)
}
