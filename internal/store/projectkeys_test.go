package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// projectKeyOf reads the kid of project's primary key.
func projectKeyOf(t *testing.T, s *store.Store, project string) string {
	t.Helper()
	k, err := s.GetProjectKey(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return k.KID
}

// ciphertexts reads every stored ciphertext, current and kept, by row.
func ciphertexts(t *testing.T, db *storetest.DB) map[string]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		select project || '/' || name || '#' || revision, ciphertext from secrets
		union all select project || '/' || name || '#' || revision || 'v', ciphertext from secret_versions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func TestEachProjectHasItsOwnKeyAndAKeyOpensOnlyItsProject(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "w")
	put(t, s, "tenant-a", "K", canary)
	put(t, s, "tenant-b", "K", "b-value")
	a, b := projectKeyOf(t, s, "tenant-a"), projectKeyOf(t, s, "tenant-b")
	if a == b || !strings.HasPrefix(a, "pk-") {
		t.Fatalf("project keys %q and %q, want one of its own per project", a, b)
	}
	// Someone who holds tenant-a's key (leaked) writes a ciphertext of it
	// into tenant-b's row, bound to that row: it authenticates, and is
	// still refused, by this process and by a fresh one.
	keyA, ok := ring.ProjectKey("tenant-a", a)
	if !ok {
		t.Fatal("the writer's keyring does not hold tenant-a's key")
	}
	meta, err := s.GetSecretMeta(ctx, "tenant-b", "K")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := keyring.EncryptWith(keyA, []byte("planted"), keyring.SecretBinding("tenant-b", "K", meta.Revision))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, "update secrets set ciphertext = $1, kid = $2 where project = 'tenant-b'", forged, a)
	for _, reader := range []*store.Store{s, db.Open(t, testRootKeysLike(t, ring), "fresh")} {
		_, err := reader.GetSecret(ctx, "tenant-b", "K", "test")
		var mismatch *keyring.ProjectMismatchError
		if !errors.As(err, &mismatch) || mismatch.KeyProject != "tenant-a" || strings.Contains(err.Error(), "planted") {
			t.Fatalf("read of tenant-b's row under tenant-a's key: %v, want it refused as another project's key", err)
		}
	}
	if got, err := s.GetSecret(ctx, "tenant-a", "K", "test"); err != nil || string(got.Value) != canary {
		t.Fatalf("tenant-a's own secret: %v", err)
	}
}

// testRootKeysLike gives a keyring with the same root keys as ring, as
// another process configured alike would hold, and nothing unwrapped yet.
func testRootKeysLike(t *testing.T, ring *keyring.Keyring) *keyring.Keyring {
	t.Helper()
	r, err := keyring.New(ring.Roots())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestProjectKeyRowEditedInTheDatabaseIsRefused(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "w")
	put(t, s, "tenant-a", "K", "a1")
	put(t, s, "tenant-b", "K", "b1")
	a := projectKeyOf(t, s, "tenant-a")

	// Moved to another project: tenant-a's secrets no longer find it, and
	// tenant-b, whose row now lists it, cannot unwrap it.
	exec(t, db, "update project_keys set project = 'tenant-b', state = 'retired' where kid = $1", a)
	fresh := db.Open(t, testRootKeysLike(t, ring), "fresh")
	if _, err := fresh.GetSecret(ctx, "tenant-a", "K", "test"); !keyring.IsProjectMismatch(err) {
		t.Fatalf("read through a moved key row: %v, want another project's key refused", err)
	}
	// With the row moved, a ciphertext of tenant-a's key planted in
	// tenant-b's row names a key that tenant-b's row lists: the key's
	// wrapping, bound to tenant-a, is what refuses it.
	keyA, _ := ring.ProjectKey("tenant-a", a)
	meta, err := s.GetSecretMeta(ctx, "tenant-b", "K")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := keyring.EncryptWith(keyA, []byte("planted"), keyring.SecretBinding("tenant-b", "K", meta.Revision))
	if err != nil {
		t.Fatal(err)
	}
	var saved string
	if err := db.Pool.QueryRow(ctx, "select ciphertext from secrets where project = 'tenant-b'").Scan(&saved); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "update secrets set ciphertext = $1 where project = 'tenant-b'", forged)
	_, err = fresh.GetSecret(ctx, "tenant-b", "K", "test")
	var mismatch *keyring.BindingMismatchError
	if !errors.As(err, &mismatch) || strings.Contains(err.Error(), "planted") {
		t.Fatalf("unwrap of a key row moved to tenant-b: %v, want its wrapping refused", err)
	}
	exec(t, db, "update secrets set ciphertext = $1 where project = 'tenant-b'", saved)
	exec(t, db, "update project_keys set project = 'tenant-a', state = 'primary' where kid = $1", a)

	// A retired key made primary again by editing its row (to keep new
	// values under a key known to have leaked) is refused at the next write.
	if _, _, err := s.RotateProjectKey(ctx, "tenant-a"); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "update project_keys set state = 'retired' where project = 'tenant-a' and kid <> $1", a)
	exec(t, db, "update project_keys set state = 'primary' where kid = $1", a)
	_, err = db.Open(t, testRootKeysLike(t, ring), "fresh2").PutSecret(ctx, store.PutSecretInput{Project: "tenant-a", Name: "K2", Value: []byte("v"), ExpectedRevision: store.MustNotExist})
	var stale *keyring.StaleBindingError
	if !errors.As(err, &stale) {
		t.Fatalf("write under a retired key made primary in the database: %v, want it refused", err)
	}
}

func TestProjectKeyRotationMovesThatProjectOnly(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	s := db.Open(t, testRootKeys(t), "ops")
	for _, p := range []string{"tenant-a", "tenant-b"} {
		put(t, s, p, "K", p+"-1")
		put(t, s, p, "K", p+"-2") // the first value is kept as a version
	}
	old, otherKey := projectKeyOf(t, s, "tenant-a"), projectKeyOf(t, s, "tenant-b")
	before := ciphertexts(t, db)

	k, retired, err := s.RotateProjectKey(ctx, "tenant-a")
	if err != nil || retired != old || k.KID == old || k.State != store.ProjectKeyPrimary {
		t.Fatalf("rotate: %+v, retired %q, %v", k, retired, err)
	}
	// New values go under the new key at once; the old values still read.
	if m := put(t, s, "tenant-a", "NEW", "n"); m.KID != k.KID {
		t.Fatalf("write after rotation under %q, want %q", m.KID, k.KID)
	}
	if got := valueAtIn(t, s, "tenant-a", "K", 1); got != "tenant-a-1" {
		t.Fatalf("old version after rotation = %q", got)
	}

	plan, err := s.PlanReencrypt(ctx, "")
	if err != nil || !slices.Equal(plan.Projects, []string{"tenant-a"}) {
		t.Fatalf("plan after rotating tenant-a: projects %v (%v), want tenant-a alone", plan.Projects, err)
	}
	sum, err := reencrypt.Run(ctx, s, reencrypt.Options{})
	if err != nil || sum.Reencrypted != 2 || !slices.Equal(sum.ProjectKeysDeleted, []string{old}) {
		t.Fatalf("reencrypt: %+v %v, want tenant-a's 2 rows moved and its old key destroyed", sum, err)
	}
	after := ciphertexts(t, db)
	for row, c := range before {
		changed := after[row] != c
		if strings.HasPrefix(row, "tenant-b/") == changed {
			t.Errorf("row %s changed = %v: only tenant-a's rows may change", row, changed)
		}
	}
	keys, err := s.ListProjectKeys(ctx, "")
	if err != nil || len(keys) != 2 || keys[0].KID != k.KID || keys[0].Secrets != 2 || keys[0].Versions != 1 || keys[1].KID != otherKey {
		t.Fatalf("project keys after reencrypt = %+v (%v)", keys, err)
	}
	fresh := db.Open(t, testRootKeysLike(t, s.Keyring()), "fresh")
	for rev, want := range map[int64]string{1: "tenant-a-1", 2: "tenant-a-2"} {
		if got := valueAtIn(t, fresh, "tenant-a", "K", rev); got != want {
			t.Errorf("revision %d = %q after reencrypt", rev, got)
		}
	}
}

func valueAtIn(t *testing.T, s *store.Store, project, name string, revision int64) string {
	t.Helper()
	v, err := s.GetSecretVersion(context.Background(), project, name, revision, "test")
	if err != nil {
		t.Fatalf("revision %d of %s/%s: %v", revision, project, name, err)
	}
	return string(v.Value)
}

func TestRootRotationRewrapsProjectKeysAndTouchesNoSecret(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	roots := testRootKeyList(t)
	s := db.Open(t, storetest.Ring(t, roots...), "ops")
	for _, p := range []string{"p1", "p2", "p3"} {
		put(t, s, p, "K", p+"-1")
		put(t, s, p, "K", p+"-2")
	}
	before := ciphertexts(t, db)

	next := storetest.Key(t, "root-next", "dir")
	rotated := db.Open(t, storetest.Ring(t, next, roots[0], roots[1]), "ops")
	dry, err := reencrypt.Run(ctx, rotated, reencrypt.Options{DryRun: true})
	if err != nil || dry.ProjectKeysToRewrap != 3 || dry.Reencrypted != 0 || dry.ProjectKeysCurrent != 3 {
		t.Fatalf("dry run: %+v %v, want 3 project keys to rewrap and no secret", dry, err)
	}
	sum, err := reencrypt.Run(ctx, rotated, reencrypt.Options{})
	if err != nil || sum.ProjectKeysRewrapped != 3 || sum.Reencrypted != 0 {
		t.Fatalf("reencrypt: %+v %v, want 3 rewraps and no secret", sum, err)
	}
	if after := ciphertexts(t, db); len(after) != len(before) {
		t.Fatalf("%d rows after, %d before", len(after), len(before))
	} else {
		for row, c := range before {
			if after[row] != c {
				t.Errorf("row %s was rewritten by a root rotation", row)
			}
		}
	}
	var wrapping []string
	rows, err := db.Pool.Query(ctx, "select distinct wrapping_kid from project_keys")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		wrapping = append(wrapping, k)
	}
	rows.Close()
	if !slices.Equal(wrapping, []string{"root-next"}) {
		t.Fatalf("project keys wrapped by %v, want root-next alone", wrapping)
	}
	// The old root keys can go: everything reads with the new one alone.
	only := db.Open(t, storetest.Ring(t, next), "after")
	for _, p := range []string{"p1", "p2", "p3"} {
		if got, err := only.GetSecret(ctx, p, "K", "test"); err != nil || string(got.Value) != p+"-2" {
			t.Fatalf("%s with the new root key alone: %v", p, err)
		}
		if got := valueAtIn(t, only, p, "K", 1); got != p+"-1" {
			t.Fatalf("%s's earlier value with the new root key alone = %q", p, got)
		}
	}
	if err := verifyChain(t, only); err != nil {
		t.Fatalf("audit chain after the rotation: %v", err)
	}
}

func TestShredDestroysAProjectAndNothingElse(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "ops")
	put(t, s, "tenant-a", "K", canary)
	put(t, s, "tenant-a", "K", canary+"2")
	put(t, s, "tenant-a", "L", canary+"3")
	put(t, s, "tenant-b", "K", "b")
	keyA := projectKeyOf(t, s, "tenant-a")

	res, err := s.ShredProject(ctx, "tenant-a")
	if err != nil || res.Secrets != 2 || res.Versions != 1 || !slices.Equal(res.KIDs, []string{keyA}) || len(res.OtherKIDs) != 0 {
		t.Fatalf("shred: %+v %v", res, err)
	}
	if _, ok := ring.ProjectKey("tenant-a", keyA); ok {
		t.Error("the shredded project's key is still in memory")
	}
	var left int
	if err := db.Pool.QueryRow(ctx, `select (select count(*) from secrets where project = 'tenant-a') + (select count(*) from secret_versions where project = 'tenant-a')
		+ (select count(*) from project_keys where project = 'tenant-a')`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows of tenant-a left (%v)", left, err)
	}
	if got, err := s.GetSecret(ctx, "tenant-b", "K", "test"); err != nil || string(got.Value) != "b" {
		t.Fatalf("tenant-b after tenant-a's shred: %v", err)
	}
	events := db.Events(t)
	last := events[len(events)-2] // the read of tenant-b comes after
	if last.Action != audit.ActionProjectShred || last.Project != "tenant-a" || !strings.Contains(string(last.Details), keyA) {
		t.Fatalf("shred event = %+v", last)
	}
	for _, e := range events {
		if strings.Contains(string(e.Details), canary) {
			t.Fatalf("event %d holds a shredded value", e.Seq)
		}
	}
	if err := verifyChain(t, s); err != nil {
		t.Fatalf("audit chain after a shred: %v", err)
	}
	if _, err := s.ShredProject(ctx, "tenant-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second shred: %v, want not found", err)
	}
	// The name can be used again, under a new key.
	if m := put(t, s, "tenant-a", "K", "again"); m.KID == keyA || m.Revision != 1 {
		t.Fatalf("a new tenant-a: %+v", m)
	}
}

// An upgraded store that held secrets keeps writing where it did (under
// the first root key here) until a reencrypt moves it; then everything is
// under project keys.
func TestUpgradeKeepsAStoreOnItsKeysUntilReencrypt(t *testing.T) {
	ctx := context.Background()
	db := dbAt(t, 8) // the release before project keys
	ring := testRootKeys(t)
	old, _, err := ring.Encrypt([]byte("from before"), keyring.SecretBinding("app", "OLD", 1))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, "insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by) values ('app', 'OLD', $1, 'root-a', true, 'old', 'old')", old)
	if _, err := store.Migrate(ctx, db.Pool, store.DefaultSchema, nil); err != nil {
		t.Fatal(err)
	}
	s := db.Open(t, ring, "ops")
	if _, on, err := s.ProjectKeysSince(ctx); err != nil || on {
		t.Fatalf("upgraded store on project keys = %v (%v), want not yet", on, err)
	}
	if m := put(t, s, "app", "NEW", "v"); m.KID != "root-a" {
		t.Fatalf("write in an upgraded store under %q, want root-a as before", m.KID)
	}
	if _, _, err := s.EnsureProjectKey(ctx, "app"); !strings.Contains(fmt.Sprint(err), "pgsecrets reencrypt") {
		t.Fatalf("project key before the move: %v, want the move named", err)
	}
	sum, err := reencrypt.Run(ctx, s, reencrypt.Options{})
	if err != nil || sum.Reencrypted != 2 {
		t.Fatalf("reencrypt: %+v %v", sum, err)
	}
	if _, on, _ := s.ProjectKeysSince(ctx); !on {
		t.Fatal("store not on project keys after reencrypt")
	}
	pk := projectKeyOf(t, s, "app")
	for _, name := range []string{"OLD", "NEW"} {
		m, err := s.GetSecretMeta(ctx, "app", name)
		if err != nil || m.KID != pk {
			t.Fatalf("%s under %q after reencrypt, want app's key %q", name, m.KID, pk)
		}
	}
	if m := put(t, s, "app", "LATER", "v"); m.KID != pk {
		t.Fatalf("write after the move under %q", m.KID)
	}
	if got, err := s.GetSecret(ctx, "app", "OLD", "test"); err != nil || string(got.Value) != "from before" {
		t.Fatalf("old secret after the move: %v", err)
	}
}
