package store_test

import (
	"fmt"
	"sync"
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

// concurrently runs workers goroutines, each with a store of its own (actor
// name-N), calling do each times, and fails the test with any error.
func concurrently(t *testing.T, db *storetest.DB, ring *keyring.Keyring, name string, workers, each int, do func(s *store.Store, w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		s := db.Open(t, ring, fmt.Sprintf("%s-%d", name, w))
		wg.Go(func() {
			for i := range each {
				if err := do(s, w, i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
