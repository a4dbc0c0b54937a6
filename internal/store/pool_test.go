package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A write notices a new primary key inside its transaction and reloads the
// data keys there. Through a pool of one connection (the provider's
// max_connections = 1), with many writes at once right after another
// process changed the primary, nothing may wait for a second connection.
func TestConcurrentWritesAfterPrimaryChangeOnOneConnectionPool(t *testing.T) {
	db := storetest.NewLegacyDB(t)
	roots := testRootKeyList(t)
	ring := storetest.Ring(t, roots...)
	cfg := db.Config
	cfg.MaxConns = 1
	cfg.Actor = "terraform"
	writer, err := store.Open(context.Background(), cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	other := db.Open(t, storetest.Ring(t, roots...), "operator")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for round := range 3 {
		if _, err := other.CreateDataKey(ctx, store.CreateDataKeyInput{Alg: "dir", Enc: "A256GCM", State: store.StatePrimary}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := range 10 { // Terraform's default parallelism
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := writer.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("R%d_%d", round, i), Value: []byte("v"), ExpectedRevision: store.MustNotExist})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v (a deadline here means the pool deadlocked)", round, err)
			}
		}
		primary := writer.Keyring().Primary().KID
		metas, err := writer.ListSecrets(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			if m.Name[:2] == fmt.Sprintf("R%d", round) && m.KID != primary {
				t.Fatalf("round %d: %s written under %s, not the new primary %s", round, m.Name, m.KID, primary)
			}
		}
	}
}
