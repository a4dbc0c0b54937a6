package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func mustPut(t *testing.T, s *store.Store, name, value string, expected int64) store.SecretMeta {
	t.Helper()
	m, err := s.PutSecret(context.Background(), store.PutSecretInput{Project: "app", Name: name, Value: []byte(value), ExpectedRevision: expected})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func valueAt(t *testing.T, s *store.Store, name string, revision int64) string {
	t.Helper()
	return valueAtIn(t, s, "app", name, revision)
}

func TestEveryWriteKeepsThePreviousValue(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	mustPut(t, s, "K", "one", store.MustNotExist)
	mustPut(t, s, "K", "two", 1)
	mustPut(t, s, "K", "three", store.AnyRevision)
	hist, err := s.SecretHistory(ctx, "app", "K")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || !hist[0].Current || hist[0].Revision != 3 || hist[2].Action != "create" || hist[1].Action != "update" || hist[1].WrittenBy != "tester" {
		t.Fatalf("history = %+v", hist)
	}
	for rev, want := range map[int64]string{1: "one", 2: "two", 3: "three"} {
		if got := valueAt(t, s, "K", rev); got != want {
			t.Errorf("revision %d = %q, want %q", rev, got, want)
		}
	}
}

func TestRollbackRestoresTheExactValueAsANewRevision(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	mustPut(t, s, "K", "good", store.MustNotExist)
	mustPut(t, s, "K", "mistake", 1)
	m, err := s.RollbackSecret(ctx, "app", "K", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Revision != 3 || valueAt(t, s, "K", 3) != "good" {
		t.Fatalf("after rollback: revision %d value %q", m.Revision, valueAt(t, s, "K", 3))
	}
	hist, _ := s.SecretHistory(ctx, "app", "K")
	if hist[0].Action != "rollback" {
		t.Errorf("newest revision's action = %q, want rollback", hist[0].Action)
	}
	// A rollback is a write: it loses to a write made since.
	_, err = s.RollbackSecret(ctx, "app", "K", 2, 2)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rollback against a stale revision: %v, want a conflict", err)
	}
}

// A kept version is the ciphertext of its own revision: copied into another
// secret, or presented as another revision, it is refused.
func TestVersionCiphertextRefusedElsewhere(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	mustPut(t, s, "A", "a-one", store.MustNotExist)
	mustPut(t, s, "A", "a-two", 1)
	mustPut(t, s, "B", "b-one", store.MustNotExist)
	mustPut(t, s, "B", "b-two", 1)
	exec(t, db, "update secret_versions set ciphertext = (select ciphertext from secret_versions where name = 'A' and revision = 1) where name = 'B' and revision = 1")
	_, err := s.GetSecretVersion(ctx, "app", "B", 1, "test")
	var moved *keyring.BindingMismatchError
	if !errors.As(err, &moved) {
		t.Fatalf("another secret's version: %v, want a binding mismatch", err)
	}
	exec(t, db, "update secrets set ciphertext = (select ciphertext from secret_versions where name = 'A' and revision = 1) where name = 'A'")
	_, err = s.GetSecret(ctx, "app", "A", "test")
	var stale *keyring.StaleBindingError
	if !errors.As(err, &stale) {
		t.Fatalf("revision 1 presented as revision 2: %v, want a stale binding", err)
	}
}

func TestDeleteIsRecoverableWithinTheWindowAndDestroyIsNot(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	mustPut(t, s, "K", "keep me", store.MustNotExist)
	if err := s.DeleteSecret(ctx, "app", "K", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSecretMeta(ctx, "app", "K"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted secret still listed: %v", err)
	}
	m, err := s.UndeleteSecret(ctx, "app", "K")
	if err != nil {
		t.Fatal(err)
	}
	if m.Revision != 2 || valueAt(t, s, "K", 2) != "keep me" {
		t.Fatalf("undeleted at revision %d", m.Revision)
	}

	// Past the window: refused, and pruned.
	if err := s.DeleteSecret(ctx, "app", "K", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "update secret_versions set replaced_at = now() - interval '31 days' where name = 'K' and deleted")
	if _, err := s.UndeleteSecret(ctx, "app", "K"); err == nil || !strings.Contains(err.Error(), "past the retention window") {
		t.Fatalf("undelete after the window: %v", err)
	}
	res, err := s.PruneHistory(ctx, "")
	if err != nil || res.DeletedSecrets != 1 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	if _, err := s.SecretHistory(ctx, "app", "K"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("history after prune: %v", err)
	}

	// A name created again continues its revisions: no old ciphertext fits.
	mustPut(t, s, "D", "v1", store.MustNotExist)
	mustPut(t, s, "D", "v2", 1)
	if err := s.DeleteSecret(ctx, "app", "D", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	if m := mustPut(t, s, "D", "new life", store.MustNotExist); m.Revision != 3 {
		t.Fatalf("recreated secret at revision %d, want 3", m.Revision)
	}
	n, err := s.DestroySecret(ctx, "app", "D")
	if err != nil || n != 3 {
		t.Fatalf("destroy removed %d revisions (%v), want 3", n, err)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, "select (select count(*) from secrets where name = 'D') + (select count(*) from secret_versions where name = 'D')").Scan(&left); err != nil || left != 0 {
		t.Fatalf("after destroy %d rows remain (%v)", left, err)
	}
}

func TestRetentionPrunesExactlyWhatItShould(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for i, v := range []string{"1", "2", "3", "4", "5", "6"} {
		mustPut(t, s, "K", v, int64(i))
	}
	mustPut(t, s, "OLD", "a", store.MustNotExist)
	mustPut(t, s, "OLD", "b", 1)
	exec(t, db, "update secret_versions set replaced_at = now() - interval '100 days' where name = 'OLD'")
	if err := s.SetRetention(ctx, store.Retention{Project: "app", Keep: 3, MaxAge: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRetention(ctx, "app")
	if err != nil || r.Keep != 3 || r.MaxAge != 90*24*time.Hour || r.Inherited {
		t.Fatalf("retention = %+v %v", r, err)
	}
	res, err := s.PruneHistory(ctx, "")
	if err != nil || res.Versions != 3 {
		t.Fatalf("prune = %+v %v, want 2 of K's 5 versions and OLD's one", res, err)
	}
	hist, _ := s.SecretHistory(ctx, "app", "K")
	var revs []int64
	for _, h := range hist {
		revs = append(revs, h.Revision)
	}
	if len(revs) != 4 || revs[0] != 6 || revs[3] != 3 {
		t.Fatalf("K's revisions after prune = %v, want [6 5 4 3]", revs)
	}
	// A write applies the limits to its own secret at once.
	mustPut(t, s, "K", "7", 6)
	if hist, _ := s.SecretHistory(ctx, "app", "K"); len(hist) != 4 || hist[3].Revision != 4 {
		t.Fatalf("after a write, history = %+v", hist)
	}
	if def, _ := s.GetRetention(ctx, "other"); !def.Inherited || def.DeletedFor != 30*24*time.Hour {
		t.Fatalf("default retention = %+v", def)
	}
}

// reencrypt moves the history too, and a key only the history uses is
// still in use.
func TestReencryptMovesVersionsAndKeysStatusCountsThem(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewLegacyDB(t)
	roots := testRootKeyList(t)
	s := db.Open(t, storetest.Ring(t, roots...), "w")
	if _, err := s.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "dk-old", Alg: "dir", Enc: "A256GCM", State: store.StatePrimary}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "K", "one", store.MustNotExist)
	mustPut(t, s, "K", "two", 1)
	if _, err := s.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "dk-new", Alg: "dir", Enc: "A256GCM", State: store.StatePrimary}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "K", "three", 2) // current under dk-new; both versions under dk-old
	usage, err := s.KeyUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range usage {
		if u.KID == "dk-old" && (u.Secrets != 0 || u.Versions != 2) {
			t.Fatalf("dk-old usage = %+v, want 0 secrets and 2 versions", u)
		}
	}
	if _, err := s.SetDataKeyState(ctx, "dk-old", store.StateDisabled); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("disable of a key only versions use: %v, want in use", err)
	}
	sum, err := reencrypt.Run(ctx, s, reencrypt.Options{})
	if err != nil || sum.Reencrypted != 3 {
		t.Fatalf("reencrypt: %+v %v, want the value and its 2 versions moved to the project's key", sum, err)
	}
	for _, kid := range []string{"dk-old", "dk-new"} {
		if _, err := s.SetDataKeyState(ctx, kid, store.StateDisabled); err != nil {
			t.Fatalf("disable %s after reencrypt: %v", kid, err)
		}
	}
	for rev, want := range map[int64]string{1: "one", 2: "two", 3: "three"} {
		if got := valueAt(t, s, "K", rev); got != want {
			t.Errorf("revision %d = %q after reencrypt", rev, got)
		}
	}
}

// Once an undeleted secret lives again, the value it had when deleted is an
// earlier value like any other: the keep limit prunes it.
func TestUndeletedSecretsOldValueIsPrunedLikeAnyOther(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	mustPut(t, s, "K", "v1", store.MustNotExist)
	if err := s.DeleteSecret(ctx, "app", "K", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UndeleteSecret(ctx, "app", "K"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "K", "v3", 2)
	mustPut(t, s, "K", "v4", 3)
	if err := s.SetRetention(ctx, store.Retention{Project: "app", Keep: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneHistory(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	hist, err := s.SecretHistory(ctx, "app", "K")
	if err != nil || len(hist) != 2 || hist[1].Revision != 3 {
		t.Fatalf("history after prune = %+v (%v), want revisions 4 and 3", hist, err)
	}
}
