package store_test

import (
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testRootKeys returns a fresh keyring with two root keys (dir and A256GCMKW).
func testRootKeys(t testing.TB) *keyring.Keyring {
	t.Helper()
	return storetest.Ring(t, testRootKeyList(t)...)
}

func testRootKeyList(t testing.TB) []*keyring.Key {
	t.Helper()
	a, err := keyring.Generate("root-a", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	b, err := keyring.Generate("root-b", "A256GCMKW", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	return []*keyring.Key{a, b}
}

func newTestStore(t testing.TB) (*store.Store, *storetest.DB) {
	t.Helper()
	db := storetest.NewDB(t)
	return db.Open(t, testRootKeys(t), "tester"), db
}
