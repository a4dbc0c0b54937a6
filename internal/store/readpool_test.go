package store_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// openWithReadURL opens a store on db whose reads go to readURL, as a
// process given PGSECRETS_READ_URL would, with root keys like ring's and
// nothing unwrapped yet.
func openWithReadURL(t *testing.T, db *storetest.DB, readURL string, s *store.Store) *store.Store {
	t.Helper()
	cfg := db.Config
	cfg.ReadURL, cfg.ReadURLSource, cfg.Actor = readURL, "PGSECRETS_READ_URL", "reader"
	r, err := store.Open(context.Background(), cfg, testRootKeysLike(t, s.Keyring()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// lastRead is the newest secret.read event's details.
func lastRead(t *testing.T, db *storetest.DB) string {
	t.Helper()
	events := db.Events(t)
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Action == audit.ActionSecretRead {
			return events[i].Details
		}
	}
	t.Fatal("no secret.read event on the primary")
	return ""
}

func values(t *testing.T, s *store.Store, project string, names ...string) map[string]string {
	t.Helper()
	got, err := s.GetValues(context.Background(), project, names, "test")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range got {
		out[k] = string(v)
	}
	return out
}

// A standby behind the primary serves the previous revision, whole; the
// read's audit event is on the primary, saying where the value came from
// and which revision it was. Consistent reads the latest. What the standby
// may lack only because it is behind (a secret just added, a key pruned by
// a reencrypt) is read on the primary instead, never reported missing.
// With the primary gone, a read from the standby fails: its audit event
// cannot be written.
func TestStandbyReadServesThePreviousRevisionAndAuditsOnThePrimary(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewStandbyDB(t)
	w := db.Open(t, testRootKeys(t), "writer")
	put(t, w, "app", "TOKEN", "v1")
	put(t, w, "app", "OTHER", "o1")
	put(t, w, "rotated", "KEY", "r1")
	db.Cluster.WaitReplayed(t)
	reader := openWithReadURL(t, db.DB, db.StandbyURL, w)

	db.PauseReplay(t)
	put(t, w, "app", "TOKEN", "v2")
	put(t, w, "app", "ADDED", "a1")
	if got := values(t, reader, "app", "TOKEN", "OTHER"); !maps.Equal(got, map[string]string{"TOKEN": "v1", "OTHER": "o1"}) {
		t.Fatalf("read through a standby paused before revision 2: %v, want revision 1's value", got)
	}
	if d := lastRead(t, db.DB); !strings.Contains(d, `"read_from":"read URL"`) || !strings.Contains(d, `"TOKEN"`) {
		t.Errorf("audit event of the standby read, on the primary: %s, want it to say the value came through the read URL", d)
	}
	sec, err := reader.GetSecret(ctx, "app", "TOKEN", "test")
	if err != nil || string(sec.Value) != "v1" || sec.Revision != 1 {
		t.Fatalf("GetSecret through the standby: %q rev %d (%v), want v1 at revision 1", sec.Value, sec.Revision, err)
	}
	if d := lastRead(t, db.DB); !strings.Contains(d, `"revision":1`) {
		t.Errorf("audit event of GetSecret: %s, want the revision actually read (1)", d)
	}
	if got := values(t, reader.Consistent(), "app", "TOKEN"); got["TOKEN"] != "v2" {
		t.Fatalf("consistent read: %v, want the primary's v2", got)
	}
	if d := lastRead(t, db.DB); strings.Contains(d, "read_from") {
		t.Errorf("audit event of a consistent read: %s, want no read URL", d)
	}
	// ADDED is not on the standby yet: the whole read is made on the primary.
	if got := values(t, reader, "app", "TOKEN", "ADDED"); !maps.Equal(got, map[string]string{"TOKEN": "v2", "ADDED": "a1"}) {
		t.Fatalf("read of a secret added after the standby paused: %v, want both from the primary", got)
	}
	if sec, err := reader.GetSecret(ctx, "app", "ADDED", "test"); err != nil || string(sec.Value) != "a1" {
		t.Fatalf("GetSecret of a secret the standby lacks: %v, want it from the primary", err)
	}

	// A reencrypt moves "rotated" to a new key and destroys the old one on
	// the primary; the paused standby still holds the value under it.
	if _, _, err := w.RotateProjectKey(ctx, "rotated"); err != nil {
		t.Fatal(err)
	}
	put(t, w, "rotated", "KEY", "r2")
	put(t, w, "rotated", "NEWER", "n1")
	if sum, err := reencrypt.Run(ctx, w, reencrypt.Options{}); err != nil || len(sum.ProjectKeysDeleted) != 1 {
		t.Fatalf("reencrypt: %+v %v, want the old key destroyed", sum, err)
	}
	// Every secret of the project: the read made again on the primary is
	// of every secret there, not of those the standby had.
	all, err := reader.GetProjectValues(ctx, "rotated", "test")
	if err != nil || len(all) != 2 || string(all["KEY"]) != "r2" || string(all["NEWER"]) != "n1" {
		t.Fatalf("every secret of a project under a key pruned on the primary: %q (%v), want KEY and NEWER from the primary", all, err)
	}
	if got := values(t, reader, "rotated", "KEY"); got["KEY"] != "r2" {
		t.Fatalf("read under a key pruned on the primary: %v, want the primary's value", got)
	}

	db.ResumeReplay(t)
	if got := values(t, reader, "app", "TOKEN"); got["TOKEN"] != "v2" {
		t.Fatalf("read once the standby caught up: %v, want v2", got)
	}

	// A process that has written reads its own writes, on the primary.
	db.PauseReplay(t)
	put(t, reader, "app", "TOKEN", "v3")
	if got := values(t, reader, "app", "TOKEN"); got["TOKEN"] != "v3" || reader.ReadsFromReadURL() {
		t.Fatalf("read after this store's own write: %v, want its v3 from the primary", got)
	}
	db.ResumeReplay(t)

	reader = openWithReadURL(t, db.DB, db.StandbyURL, w)
	db.Cluster.StopPrimary(t)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := reader.GetValues(short, "app", []string{"TOKEN"}, "test")
	if err == nil || got != nil {
		t.Fatalf("read from the standby with the primary down: %v, %v; want it to fail, its audit event unwritable", got, err)
	}
}

// A read URL that reaches another database is refused at the first read,
// naming the mismatch, not read from as if it were this one.
func TestReadURLOfAnotherDeploymentRefused(t *testing.T) {
	db := storetest.NewDB(t)
	w := db.Open(t, testRootKeys(t), "writer")
	put(t, w, "app", "TOKEN", canary)
	other := storetest.NewDB(t)
	reader := openWithReadURL(t, db, other.URL, w)

	_, err := reader.GetValues(context.Background(), "app", []string{"TOKEN"}, "test")
	var rp *store.ReadPoolError
	if !errors.As(err, &rp) || !strings.Contains(err.Error(), "deployment") || !strings.Contains(err.Error(), "PGSECRETS_READ_URL") {
		t.Fatalf("read through a read URL of another deployment: %v, want it refused naming the deployment and the setting", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatal("the error holds the secret's value")
	}
	// Writes never reach the read URL.
	put(t, reader, "app", "TOKEN", "written")
	if got := values(t, reader.Consistent(), "app", "TOKEN"); got["TOKEN"] != "written" {
		t.Fatalf("consistent read: %v", got)
	}
}

// Through a read URL on the same server (what a single-server setup
// configured for standbys looks like), reads are the same reads.
func TestReadURLOnThePrimaryReadsLikeWithout(t *testing.T) {
	db := storetest.NewDB(t)
	w := db.Open(t, testRootKeys(t), "writer")
	put(t, w, "app", "A", "1")
	put(t, w, "app", "B", "2")
	reader := openWithReadURL(t, db, db.URL, w)
	if !reader.ReadsFromReadURL() || reader.Consistent().ReadsFromReadURL() {
		t.Fatal("ReadsFromReadURL does not say where reads go")
	}
	all, err := reader.GetProjectValues(context.Background(), "app", "test")
	if err != nil || len(all) != 2 {
		t.Fatalf("GetProjectValues: %v %v", all, err)
	}
	list, err := reader.ListSecrets(context.Background(), "app")
	if err != nil || !slices.Equal([]string{list[0].Name, list[1].Name}, []string{"A", "B"}) {
		t.Fatalf("ListSecrets: %v %v", list, err)
	}
	if got := values(t, reader, "app", "A", "MISSING"); !maps.Equal(got, map[string]string{"A": "1"}) {
		t.Fatalf("GetValues with a missing name: %v", got)
	}
	if d := lastRead(t, db); !strings.Contains(d, `"not_found":["MISSING"]`) {
		t.Errorf("audit event: %s, want the missing name", d)
	}
}
