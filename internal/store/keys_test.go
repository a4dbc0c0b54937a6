package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A store from before project keys writes where it always did until a
// reencrypt moves it.
func TestPrimaryDataKeyEncryptsNewSecretsUntilTheStoreMoves(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewLegacyDB(t)
	roots := testRootKeyList(t)
	s := db.Open(t, storetest.Ring(t, roots...), "ops")
	k1, err := s.CreateDataKey(ctx, store.CreateDataKeyInput{Alg: "dir", Enc: "A256GCM", State: store.StatePrimary})
	if err != nil {
		t.Fatal(err)
	}
	if k1.WrappingKID != "root-a" {
		t.Fatalf("wrapped by %q, want root-a", k1.WrappingKID)
	}
	m, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "A", Value: []byte("a"), ExpectedRevision: store.MustNotExist})
	if err != nil || m.KID != k1.KID {
		t.Fatalf("secret kid = %q (%v), want data key %q", m.KID, err, k1.KID)
	}
	// Another process that loaded its keys earlier follows the new primary.
	other := db.Open(t, storetest.Ring(t, roots...), "other")
	k2, err := s.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "dk-2", Alg: "A256KW", Enc: "A128CBC-HS256", State: store.StatePrimary})
	if err != nil {
		t.Fatal(err)
	}
	m, err = other.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "B", Value: []byte("b"), ExpectedRevision: store.MustNotExist})
	if err != nil || m.KID != k2.KID {
		t.Fatalf("other process wrote under %q (%v), want new primary %q", m.KID, err, k2.KID)
	}
	old, err := s.GetDataKey(ctx, k1.KID)
	if err != nil || old.State != store.StateActive {
		t.Fatalf("old primary state = %q (%v), want active", old.State, err)
	}
	// Both secrets still read back, through either store.
	for _, name := range []string{"A", "B"} {
		if _, err := other.GetSecret(ctx, "app", name, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKeyInUseRefusesDisableAndDelete(t *testing.T) {
	ctx := context.Background()
	s := storetest.NewLegacyDB(t).Open(t, testRootKeys(t), "tester")
	k, err := s.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "dk-1", Alg: "dir", Enc: "A256GCM", State: store.StatePrimary})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "A", Value: []byte("a"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	err = s.DeleteDataKey(ctx, k.KID)
	var inUse *store.KeyInUseError
	if !errors.As(err, &inUse) || inUse.Secrets != 1 || !strings.Contains(err.Error(), "pgsecrets reencrypt") {
		t.Fatalf("delete of key in use: err = %v", err)
	}
	if _, err := s.SetDataKeyState(ctx, k.KID, store.StateDisabled); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("disable of key in use: err = %v", err)
	}
	// A deleted secret's value is kept (undelete): the key still holds it.
	if err := s.DeleteSecret(ctx, "app", "A", store.AnyRevision); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDataKey(ctx, k.KID); !errors.As(err, &inUse) || inUse.Versions != 1 || inUse.Secrets != 0 {
		t.Fatalf("delete of a key that only the history uses: err = %v", err)
	}
	if _, err := s.DestroySecret(ctx, "app", "A"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDataKey(ctx, k.KID); err != nil {
		t.Fatalf("delete of unused key: %v", err)
	}
	if _, err := s.GetDataKey(ctx, k.KID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestKeyUsageCountsSecretsPerKID(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for _, n := range []string{"A", "B"} {
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: n, Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, "update secrets set bound = false where name = 'B'; insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by) values ('app', 'C', 'x.x.x.x.x', 'gone-kid', false, 't', 't')"); err != nil {
		t.Fatal(err)
	}
	usage, err := s.KeyUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.KeyUsage{}
	for _, u := range usage {
		got[u.KID] = u
	}
	// The bound column is a hint a writer can set: bindings are read from
	// the ciphertexts.
	pk, err := s.GetProjectKey(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if u := got[pk.KID]; u.Kind != "project" || u.Project != "app" || u.State != store.StatePrimary || u.Secrets != 2 || u.Unbound != 0 || u.RowOnly != 0 {
		t.Fatalf("project key usage = %+v", u)
	}
	if u := got["root-a"]; u.Kind != "root" || u.State != store.StatePrimary || u.Secrets != 0 || u.ProjectKeys != 1 {
		t.Fatalf("root-a usage = %+v, want the root that wraps app's key", u)
	}
	if u := got["root-b"]; u.Kind != "root" || u.State != store.StateActive || u.Secrets != 0 {
		t.Fatalf("root-b usage = %+v", u)
	}
	if u := got["gone-kid"]; u.Kind != "unknown" || u.Secrets != 1 || u.Inconsistent != 1 {
		t.Fatalf("gone-kid usage = %+v", u)
	}
}

// A root key the registry knows but this process is not configured with
// (retired here, or another host's) is listed as registered, with the
// secrets it still encrypts, rather than left out or called unknown.
func TestKeyUsageListsRegisteredRootKeysTheConfigurationLacks(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewLegacyDB(t)
	roots := testRootKeyList(t)
	old := db.Open(t, storetest.Ring(t, roots...), "old")
	put(t, old, "app", "K", "v")
	next := storetest.Key(t, "root-next", "dir")
	rotated := db.Open(t, storetest.Ring(t, next, roots[0]), "rotated")
	usage, err := rotated.KeyUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, u := range usage {
		listed = append(listed, u.KID+" "+u.Kind+" "+u.State)
		if u.KID == "root-b" && (u.Kind != "root" || u.State != "registered") {
			t.Errorf("root-b = %+v, want a registered root key", u)
		}
	}
	if want := []string{"root-next root primary", "root-a root active", "root-b root registered"}; !slices.Equal(listed, want) {
		t.Fatalf("keys = %q, want %q", listed, want)
	}
}
