package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

const canary = "canary-7f3e9b1c-do-not-leak"

func TestSecretRoundTripAndRevisions(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	meta, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "API_KEY", Value: []byte("v1"), Description: "d", Category: "ai", ExpectedRevision: store.MustNotExist})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := s.GetProjectKey(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if meta.Revision != 1 || meta.KID != pk.KID || !meta.Bound || meta.CreatedBy != "tester" {
		t.Fatalf("created meta = %+v, want it under app's key %s", meta, pk.KID)
	}
	if pk.WrappingKID != "root-a" || pk.State != store.ProjectKeyPrimary || pk.CreatedBy != "tester" {
		t.Fatalf("app's key = %+v, want primary, wrapped by the first root key", pk)
	}
	meta, err = s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "API_KEY", Value: []byte("v2"), ExpectedRevision: 1})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Revision != 2 {
		t.Fatalf("revision after update = %d, want 2", meta.Revision)
	}
	got, err := s.GetSecret(ctx, "app", "API_KEY", "test")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Value) != "v2" {
		t.Fatalf("value = %q, want v2", got.Value)
	}
	list, err := s.ListSecrets(ctx, "app")
	if err != nil || len(list) != 1 || list[0].Name != "API_KEY" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := s.DeleteSecret(ctx, "app", "API_KEY", 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete at stale revision: err = %v, want conflict", err)
	}
	if err := s.DeleteSecret(ctx, "app", "API_KEY", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSecret(ctx, "app", "API_KEY", "test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: err = %v, want not found", err)
	}
}

func TestCreateRefusesExistingSecret(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	in := store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("first"), ExpectedRevision: store.MustNotExist}
	if _, err := s.PutSecret(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Value = []byte("second")
	_, err := s.PutSecret(ctx, in)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Current != 1 || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create: err = %v, want already exists conflict", err)
	}
	got, _ := s.GetSecret(ctx, "app", "TOKEN", "test")
	if string(got.Value) != "first" {
		t.Fatalf("value after refused create = %q, want first", got.Value)
	}
}

// Two writers read revision 1 and both try to write: exactly one wins, the
// other gets a conflict naming both revisions, and the winner's value stays.
func TestConcurrentWritersOneWinsOtherConflicts(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	a := db.Open(t, ring, "writer-a")
	b := db.Open(t, ring, "writer-b")
	if _, err := a.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte("base"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		cur, err := a.GetSecretMeta(ctx, "app", "K")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []*store.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "K", Value: []byte{byte('a' + i)}, ExpectedRevision: cur.Revision})
			}()
		}
		wg.Wait()
		var winners, conflicts int
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				winner = i
			case errors.Is(err, store.ErrConflict):
				conflicts++
				if !strings.Contains(err.Error(), "changed by someone else") {
					t.Fatalf("conflict message = %q", err)
				}
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if winners != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d winners, %d conflicts; want 1 and 1 (%v)", round, winners, conflicts, errs)
		}
		got, err := b.GetSecret(ctx, "app", "K", "test")
		if err != nil {
			t.Fatal(err)
		}
		if want := string(rune('a' + winner)); string(got.Value) != want || got.Revision != cur.Revision+1 {
			t.Fatalf("round %d: value %q rev %d, want %q rev %d", round, got.Value, got.Revision, want, cur.Revision+1)
		}
	}
}

func TestMovedCiphertextRefused(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for _, name := range []string{"A", "B"} {
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: name, Value: []byte("value of " + name), ExpectedRevision: store.MustNotExist}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, "update secrets set ciphertext = (select ciphertext from secrets where name = 'A') where name = 'B'"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetSecret(ctx, "app", "B", "test")
	var bm *keyring.BindingMismatchError
	if !errors.As(err, &bm) || !strings.Contains(err.Error(), `secret "app/B"`) {
		t.Fatalf("get of moved ciphertext: err = %v, want binding mismatch naming the secret", err)
	}
}

func TestUnknownKIDNamedOnRead(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	roots := testRootKeyList(t)
	writer := db.Open(t, storetest.Ring(t, roots...), "w")
	if _, err := writer.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "X", Value: []byte("x"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	// A process whose root keys lack the one that wrote it (retired too
	// early) names that key.
	reader := db.Open(t, storetest.Ring(t, roots[1:]...), "r")
	_, err := reader.GetSecret(ctx, "app", "X", "test")
	var uk *keyring.UnknownKIDError
	if !errors.As(err, &uk) || uk.KID != "root-a" || !strings.Contains(err.Error(), `"root-a"`) {
		t.Fatalf("err = %v, want unknown kid root-a", err)
	}
}

func TestInvalidNamesRefused(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	for _, in := range []store.PutSecretInput{
		{Project: "a/b", Name: "N"},
		{Project: "app", Name: "has space"},
		{Project: "", Name: "N"},
		{Project: "app", Name: ""},
	} {
		in.Value = []byte(canary)
		_, err := s.PutSecret(ctx, in)
		if err == nil || !strings.Contains(err.Error(), "is not valid") {
			t.Fatalf("PutSecret(%q, %q): err = %v, want invalid name", in.Project, in.Name, err)
		}
		if strings.Contains(err.Error(), canary) {
			t.Fatalf("error leaks the value: %v", err)
		}
	}
	long := strings.Repeat("A", 129)
	_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: long, Value: []byte("v")})
	if err == nil || !strings.Contains(err.Error(), "129 characters long: at most 128 characters") || strings.Contains(err.Error(), long) {
		t.Fatalf("a 129-character name: %v, want its length and the limit, not the whole name", err)
	}
}

func TestUnmigratedSchemaNamesTheCommand(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	cfg := db.Config
	cfg.Schema = "elsewhere"
	_, err := store.Open(ctx, cfg, testRootKeys(t))
	var sv *store.SchemaVersionError
	if !errors.As(err, &sv) || !strings.Contains(err.Error(), "pgsecrets migrate up") {
		t.Fatalf("open of unmigrated schema: err = %v, want SchemaVersionError naming migrate up", err)
	}
	// An older schema is refused too.
	if _, err := db.Pool.Exec(ctx, "update pgsecrets.schema_version set version = 0"); err != nil {
		t.Fatal(err)
	}
	defer db.Pool.Exec(ctx, "update pgsecrets.schema_version set version = $1", store.LatestVersion())
	_, err = store.Open(ctx, db.Config, testRootKeys(t))
	if !errors.As(err, &sv) {
		t.Fatalf("open of old schema: err = %v", err)
	}
}

func TestMigrateTwiceIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	st, err := store.Migrate(ctx, db.Pool, db.Config.Schema, func(int32, string) { t.Fatal("second migrate applied a migration") })
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != store.LatestVersion() || st.Current != st.Latest {
		t.Fatalf("status = %+v", st)
	}
}

// Every writer reaches the same limits through PutSecret: no empty value,
// none over 1 MiB, and a message that names the secret and the limit but
// never holds the value. Exactly 1 MiB is taken.
func TestPutSecretRefusesEmptyAndOversizedValuesWithoutQuotingThem(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	tooBig := []byte(strings.Repeat(canary, store.MaxValueBytes/len(canary)+1)[:store.MaxValueBytes+1])
	for _, tc := range []struct {
		value []byte
		want  string
	}{
		{nil, `the value of secret "app/BIG" is empty; a secret's value holds 1 byte to 1 MiB (1048576 bytes)`},
		{tooBig, `the value of secret "app/BIG" is larger than 1 MiB (1048576 bytes), the most a secret's value may hold`},
	} {
		_, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "BIG", Value: tc.value, ExpectedRevision: store.AnyRevision})
		var invalid *store.ValueError
		if !errors.As(err, &invalid) || err.Error() != tc.want {
			t.Fatalf("put %d bytes: err = %v, want %q", len(tc.value), err, tc.want)
		}
		if strings.Contains(err.Error(), "canary") {
			t.Fatalf("the error holds the value: %v", err)
		}
		if _, err := s.GetSecretMeta(ctx, "app", "BIG"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused value was written: %v", err)
		}
	}

	exact := tooBig[:store.MaxValueBytes]
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "BIG", Value: exact, ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatalf("put exactly 1 MiB: %v", err)
	}
	got, err := s.GetSecret(ctx, "app", "BIG", "test")
	if err != nil || string(got.Value) != string(exact) {
		t.Fatalf("read back %d bytes, %v; want the 1 MiB written", len(got.Value), err)
	}
}

// ReadValue drops the one line ending a pipe or an editor adds, so 1 MiB
// and a newline is 1 MiB, and stops reading just past the limit.
func TestReadValueTrimsOneLineEndingAndStopsPastTheLimit(t *testing.T) {
	for in, want := range map[string]string{
		"v\n": "v", "v\r\n": "v", "v\n\n": "v\n", "v \n": "v ", "v": "v", "\n": "",
	} {
		got, err := store.ReadValue(strings.NewReader(in))
		if err != nil || string(got) != want {
			t.Errorf("ReadValue(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	mib := strings.Repeat("x", store.MaxValueBytes)
	got, err := store.ReadValue(strings.NewReader(mib + "\n"))
	if err != nil || len(got) != store.MaxValueBytes || store.ValidateValue("app", "K", got) != nil {
		t.Fatalf("1 MiB and a newline read as %d bytes, %v", len(got), err)
	}
	// An endless pipe: the read stops, and what it returns is refused.
	got, err = store.ReadValue(endless{})
	if err != nil || len(got) > store.MaxValueBytes+3 || store.ValidateValue("app", "K", got) == nil {
		t.Fatalf("endless input read as %d bytes, %v", len(got), err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// A write run again after its connection was lost, when the first attempt
// had committed, finds the secret holding what it would write and writes
// nothing: whether it expected no secret or a revision that has moved on,
// it is not applied twice. A different value is still written.
func TestWriteRunAgainAfterItCommittedIsNotAppliedTwice(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	create := store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("first"), Description: "d", ExpectedRevision: store.MustNotExist, SameIsDone: true}
	if _, err := s.PutSecret(ctx, create); err != nil {
		t.Fatal(err)
	}
	again, err := s.PutSecret(ctx, create)
	if err != nil || !again.Unchanged || again.Revision != 1 {
		t.Fatalf("the same create run again: %+v, %v; want revision 1, unchanged", again, err)
	}
	update := store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte("second"), Description: "d", ExpectedRevision: 1, SameIsDone: true}
	if m, err := s.PutSecret(ctx, update); err != nil || m.Unchanged || m.Revision != 2 {
		t.Fatalf("update: %+v, %v; want revision 2 written", m, err)
	}
	// The first attempt's revision 1 is stale now: without SameIsDone a
	// conflict, with it the write that already happened.
	again, err = s.PutSecret(ctx, update)
	if err != nil || !again.Unchanged || again.Revision != 2 {
		t.Fatalf("the same update run again: %+v, %v; want revision 2, unchanged", again, err)
	}
	other := update
	other.Description = "changed"
	if _, err := s.PutSecret(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a different write at a stale revision: %v, want a conflict", err)
	}
	var versions, events int
	if err := db.Pool.QueryRow(ctx, "select (select count(*) from secret_versions), (select count(*) from audit_events where action in ('secret.create', 'secret.update') and subject = 'TOKEN')").Scan(&versions, &events); err != nil {
		t.Fatal(err)
	}
	if versions != 1 || events != 2 {
		t.Fatalf("%d kept versions and %d write events, want 1 and 2: a write was applied twice", versions, events)
	}
}

// Finding a secret already holding a value is no way to test a guess: a
// write of another actor's exact value, at a stale revision, is refused
// as a conflict like any other stale write, whether the guess is right or
// not.
func TestWriteOfAnotherActorsValueIsAConflictNotDone(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s := db.Open(t, ring, "tester")
	if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte(canary), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	editor := db.Open(t, ring, "dashboard:editor@example.com")
	for _, guess := range []string{canary, "wrong-guess"} {
		_, err := editor.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "TOKEN", Value: []byte(guess), ExpectedRevision: store.MustNotExist, SameIsDone: true})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("another actor's create of an existing secret (guess %q): %v, want a conflict either way", guess, err)
		}
	}
}
