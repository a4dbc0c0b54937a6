package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// shredCanary is the value of revision rev of a secret: never to be seen
// in any output but a read of that very secret.
func shredCanary(project, name string, rev int) string {
	return fmt.Sprintf("shred-canary-%s-%s-r%d", project, name, rev)
}

// seedShredProjects writes, per project, two secrets: one with a single
// revision, one with three (two kept earlier values).
func (s *session) seedShredProjects(projects ...string) {
	s.t.Helper()
	for _, p := range projects {
		s.mustRun(shredCanary(p, "ONE", 1), "secret", "add", "--project", p, "--name", "ONE")
		for rev := 1; rev <= 3; rev++ {
			s.mustRun(shredCanary(p, "THREE", rev), "secret", "add", "--project", p, "--name", "THREE", "--yes")
		}
	}
}

// pgTool runs a PostgreSQL client program (pg_dump, pg_restore) and fails
// the test with its output if it fails.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, pgtest.ClientProgram(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// dump takes a pg_dump of the session's database, as a backup would.
func (s *session) dump(name string) string {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), name)
	pgTool(s.t, "pg_dump", "--format=custom", "--file="+path, "--dbname="+s.dbURL)
	return path
}

// restore restores a dump into a new database and returns its URL.
func restore(t *testing.T, dump string) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	pgTool(t, "pg_restore", "--exit-on-error", "--no-owner", "--no-privileges", "--dbname="+url, dump)
	return url
}

// The crypto-shredding runbook, end to end as an operator runs it: a dump
// taken before the shred becomes unreadable once the old root key is gone
// (for every project: that is what retiring a root means for old backups),
// while a dump taken after the shred and the rotation restores every other
// project and nothing of the shredded one.
func TestShredThenRootRetirementLeavesOldDumpsUnreadable(t *testing.T) {
	s := newSession(t)
	s.seedShredProjects("alpha", "beta")
	var seen []result // every output that must hold no value
	run := func(stdin string, args ...string) result {
		t.Helper()
		r := s.mustRun(stdin, args...)
		seen = append(seen, r)
		return r
	}
	oldKeys := s.keysFile
	d1 := s.dump("before-shred.dump")

	r := run("", "project", "shred", "--project", "alpha", "--yes")
	if !regexp.MustCompile(`\AShredded project alpha: 2 secret\(s\) and 2 earlier version\(s\) deleted, with its project key\(s\) pk-\S+\.\n`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "rotate the root key") || !strings.Contains(r.stdout, "remove the old root key from every root keys file") {
		t.Errorf("project shred does not say what it destroyed and what is left to do:\n%s", r)
	}
	run("", "audit", "verify")

	// The runbook: a new root key first, reencrypt (rewraps the project
	// keys), then a key file with the new key only.
	run("", "key", "generate", "--out", s.keysFile, "--prepend")
	run("", "reencrypt")
	newKeys := onlyFirstRootKey(t, s.keysFile)
	s.keysFile = newKeys
	run("", "audit", "verify")
	d2 := s.dump("after-rotation.dump")

	// The old dump holds alpha (its old root key reads it), but with the new
	// root key only, nothing of it nor of beta can be read: their project
	// keys there are wrapped under the retired root key.
	live := s.dbURL
	s.dbURL, s.keysFile = restore(t, d1), oldKeys
	if r := s.mustRun("", "secret", "get", "--project", "alpha", "--name", "ONE"); r.stdout != shredCanary("alpha", "ONE", 1) {
		t.Fatalf("the dump taken before the shred does not hold alpha's value under the old root key:\n%s", r)
	}
	s.keysFile = newKeys
	for _, p := range []string{"alpha", "beta"} {
		for _, args := range [][]string{
			{"secret", "get", "--project", p, "--name", "ONE"},
			{"secret", "get", "--project", p, "--name", "THREE"},
			{"secret", "get", "--project", p, "--name", "THREE", "--revision", "1"},
		} {
			r := s.run("", args...)
			seen = append(seen, r)
			wantFailure(t, r, 1, `secret "`+p+`/`, "unwrap project key pk-", "which is not in the keyring (add it back to the root keys")
		}
	}
	r = s.run("", "render", "--project", "beta", "--format", "dotenv")
	seen = append(seen, r)
	if r.code == 0 {
		t.Errorf("render of beta from the old dump with only the new root key succeeded:\n%s", r)
	}

	// The new dump: every beta value and revision, nothing of alpha.
	s.dbURL = restore(t, d2)
	for _, name := range []string{"ONE", "THREE"} {
		revs := map[string]int{"ONE": 1, "THREE": 3}[name]
		for rev := 1; rev <= revs; rev++ {
			if r := s.mustRun("", "secret", "get", "--project", "beta", "--name", name, "--revision", fmt.Sprint(rev)); r.stdout != shredCanary("beta", name, rev) {
				t.Errorf("beta/%s revision %d from the dump after the shred = %q, want its value", name, rev, r.stdout)
			}
		}
	}
	r = s.run("", "secret", "get", "--project", "alpha", "--name", "ONE")
	seen = append(seen, r)
	wantFailure(t, r, 1, `secret "alpha/ONE" not found`)
	var left int
	err := s.pool().QueryRow(context.Background(), `select (select count(*) from pgsecrets.secrets where project = 'alpha')
		+ (select count(*) from pgsecrets.secret_versions where project = 'alpha')
		+ (select count(*) from pgsecrets.project_keys where project = 'alpha')`).Scan(&left)
	if err != nil || left != 0 {
		t.Errorf("the dump after the shred holds %d row(s) of alpha (%v), want none", left, err)
	}
	run("", "audit", "verify")

	s.dbURL = live
	run("", "key", "status")
	for _, r := range seen {
		if strings.Contains(r.stdout+r.stderr, "shred-canary-") {
			t.Errorf("a value appears in an output that must hold none:\n%s", r)
		}
	}
}

// onlyFirstRootKey writes a root keys file with the first key of file only:
// the old root keys are retired.
func onlyFirstRootKey(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil || len(keys) < 2 {
		t.Fatalf("root keys file %s: %d key(s), %v; want the new key and the old", file, len(keys), err)
	}
	b, _ = json.Marshal(keys[:1])
	path := filepath.Join(t.TempDir(), "new-root-key-only.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProjectShredRefusesWithoutProjectUnknownProjectOrConfirmation(t *testing.T) {
	s := newSession(t)
	s.seedShredProjects("alpha")

	wantFailure(t, s.run("", "project", "shred", "--yes"), 2, "--project is required")
	wantFailure(t, s.run("", "project", "shred", "--project", "nosuch", "--yes"), 1, `project "nosuch" (no secret, history or key) not found: nothing was shredded`)
	wantFailure(t, s.run("", "project", "shred", "--project", "alpha"), 2, "refusing to shred project alpha without confirmation: stdin is not a terminal; pass --yes")

	// At a terminal, anything but yes keeps the project.
	s.terminal = true
	r := s.run("n\n", "project", "shred", "--project", "alpha")
	if r.code != 1 || !strings.Contains(r.stderr, "Shred project alpha: destroy its secrets and their history (2 secret(s) and 2 earlier version(s) under its 1 key(s)) for good, with no undo? [y/N]") ||
		!strings.HasSuffix(r.stderr, "Error: project alpha was not shredded: not confirmed\n") {
		t.Errorf("project shred answered n:\n%s", r)
	}
	s.terminal = false
	if r := s.mustRun("", "secret", "get", "--project", "alpha", "--name", "THREE"); r.stdout != shredCanary("alpha", "THREE", 3) {
		t.Fatalf("alpha changed after refused shreds:\n%s", r)
	}

	s.terminal = true
	r = s.run("yes\n", "project", "shred", "--project", "alpha", "--output", "json")
	var res store.ShredResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 {
		t.Fatalf("project shred --output json: %v\n%s", err, r)
	}
	if res.Project != "alpha" || res.Secrets != 2 || res.Versions != 2 || len(res.KIDs) != 1 || len(res.OtherKIDs) != 0 {
		t.Errorf("project shred JSON = %+v", res)
	}
	s.terminal = false
	r = s.mustRun("", "audit", "export", "--action", "project.shred")
	if !strings.Contains(r.stdout, res.KIDs[0]) || strings.Contains(r.stdout, "shred-canary-") {
		t.Errorf("the shred's audit event lacks the key id, or holds a value:\n%s", r)
	}
}

// Values written before the store moved to project keys are under a root
// key: the shred names it, since retiring it is what makes old copies of
// them unreadable.
func TestProjectShredNamesKeysFromBeforeProjectKeys(t *testing.T) {
	s := newSession(t)
	storetest.MakeLegacy(t, s.pool(), store.DefaultSchema)
	s.seedShredProjects("legacy")
	kid := s.rootKID()

	r := s.mustRun("", "project", "shred", "--project", "legacy", "--yes")
	if !strings.HasPrefix(r.stdout, "Shredded project legacy: 2 secret(s) and 2 earlier version(s) deleted.\n"+
		"Some of its values were under keys from before project keys, which stay: "+kid+".\n") ||
		!strings.Contains(r.stdout, "3. the keys from before project keys named above") || strings.Contains(r.stdout, "shred-canary-") {
		t.Errorf("project shred of values under a root key does not name it:\n%s", r)
	}
}
