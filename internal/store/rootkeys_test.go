package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// A new user re-runs `key generate --out`, gets a fresh key file, and
// points a process at it: nothing may be written under it.
func TestFreshKeyFileRefusedBeforeAnyWrite(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	s := db.Open(t, testRootKeys(t), "deploy")
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	fresh, err := keyring.Generate("261129-Frsh", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	before := len(db.Events(t))
	_, err = store.Open(ctx, db.Config, storetest.Ring(t, fresh))
	var unreg *store.UnregisteredRootKeysError
	if !errors.As(err, &unreg) {
		t.Fatalf("open with a fresh key file: %v, want UnregisteredRootKeysError", err)
	}
	for _, want := range []string{`"261129-Frsh"`, `"root-a"`, "not this deployment's key file", "pgsecrets key register"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if after := len(db.Events(t)); after != before {
		t.Errorf("%d audit events appeared for a refused key file", after-before)
	}
}

func TestSameKIDWithOtherMaterialAlwaysRefused(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	roots := testRootKeyList(t)
	db.Open(t, storetest.Ring(t, roots...), "deploy")
	// The first key is right; an older one was regenerated under its kid.
	impostor, err := keyring.Generate("root-b", "A256GCMKW", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []store.Config{db.Config, {DatabaseURL: db.Config.DatabaseURL, Schema: db.Config.Schema, AllowUnregisteredRootKeys: true}} {
		_, err = store.Open(ctx, cfg, storetest.Ring(t, roots[0], impostor))
		var mismatch *store.RootKeyMismatchError
		if !errors.As(err, &mismatch) || !strings.Contains(err.Error(), `root key "root-b" does not match`) {
			t.Fatalf("open with a regenerated kid: %v, want RootKeyMismatchError naming root-b", err)
		}
	}
}

// The documented rotation: a new key first, the registered ones after it.
func TestNewFirstKeyBesideRegisteredKeyRegistersItself(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	roots := testRootKeyList(t)
	db.Open(t, storetest.Ring(t, roots...), "deploy")
	next, err := keyring.Generate("root-next", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	s := db.Open(t, storetest.Ring(t, append([]*keyring.Key{next}, roots...)...), "rotator")
	if !s.RootKeysRegistered() {
		t.Fatal("new first key not registered")
	}
	events := db.Events(t)
	last := events[len(events)-1]
	if last.Action != "rootkey.register" || last.Subject != "root-next" || !strings.Contains(last.Details, "beside registered root-a") {
		t.Fatalf("last event %s %s %s, want the registration of root-next", last.Action, last.Subject, last.Details)
	}
	// From now on the new key alone is this deployment's.
	if _, err := store.Open(ctx, db.Config, storetest.Ring(t, next)); err != nil {
		t.Fatalf("open with the registered new key alone: %v", err)
	}
}

func TestDeliberateRegistrationOfNewKeySet(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	db.Open(t, testRootKeys(t), "deploy")
	replacement := storetest.Ring(t, storetest.Key(t, "root-new", "dir"))
	cfg := db.Config
	cfg.AllowUnregisteredRootKeys = true
	s, err := store.Open(ctx, cfg, replacement)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	added, err := s.RegisterRootKeys(ctx, "operator: key register --yes")
	if err != nil || len(added) != 1 || added[0] != "root-new" {
		t.Fatalf("register: %v %v", added, err)
	}
	if _, err := store.Open(ctx, db.Config, replacement); err != nil {
		t.Fatalf("open after registration: %v", err)
	}
}

// Two processes with different key files write at the same moment to a
// freshly migrated schema, whose registry is empty: exactly one key set
// claims it, the other is refused before it writes anything, and the audit
// chain verifies.
func TestEmptyRegistryClaimedByExactlyOneKeySet(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	for i := range 20 {
		schema := fmt.Sprintf("race_%d", i)
		if _, err := store.Migrate(ctx, pgtest.SchemaPool(t, url, schema), schema, nil); err != nil {
			t.Fatal(err)
		}
		var rings [2]*keyring.Keyring
		for j := range rings {
			k, err := keyring.Generate(fmt.Sprintf("k%d-%d", j+1, i), "dir", "A256GCM")
			if err != nil {
				t.Fatal(err)
			}
			rings[j] = storetest.Ring(t, k)
		}
		var (
			start   = make(chan struct{})
			wg      sync.WaitGroup
			stores  [2]*store.Store
			results [2]error
		)
		for j := range rings {
			wg.Go(func() {
				<-start
				s, err := store.Open(ctx, store.Config{DatabaseURL: url, Schema: schema, Actor: fmt.Sprintf("writer-%d", j+1)}, rings[j])
				if err == nil {
					stores[j] = s
					_, err = s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: fmt.Sprintf("K%d", j+1), Value: []byte("v"), ExpectedRevision: store.MustNotExist})
				}
				results[j] = err
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for j, err := range results {
			var unreg *store.UnregisteredRootKeysError
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("pair %d: both key sets wrote", i)
				}
				winner = j
			case errors.As(err, &unreg):
			default:
				t.Fatalf("pair %d, writer %d: %v, want success or UnregisteredRootKeysError", i, j+1, err)
			}
		}
		if winner < 0 {
			t.Fatalf("pair %d: neither key set wrote: %v", i, results)
		}
		var kids []string
		rows, err := stores[winner].Pool().Query(ctx, "select kid from "+schema+".root_keys")
		if err == nil {
			kids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := rings[winner].RootKIDs(); !slices.Equal(kids, want) {
			t.Fatalf("pair %d: registered %v, want only the winner's %v", i, kids, want)
		}
		if _, err := stores[winner].VerifyAuditChain(ctx, ""); err != nil {
			t.Fatalf("pair %d: audit verify: %v", i, err)
		}
		for _, s := range stores {
			if s != nil {
				s.Close()
			}
		}
	}
}
