package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

const resolveCanary = "canary-getsecrets-5d0c2a"

// secretsQueryCounter counts the statements a pool sends that read the
// secrets table.
type secretsQueryCounter struct{ n atomic.Int64 }

func (c *secretsQueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, `from "pgsecrets"."secrets"`) {
		c.n.Add(1)
	}
	return ctx
}

func (c *secretsQueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// openCounted opens a store whose pool counts reads of the secrets table.
func openCounted(t *testing.T, db *storetest.DB, ring *keyring.Keyring) (*store.Store, *secretsQueryCounter) {
	t.Helper()
	counter := &secretsQueryCounter{}
	return openOnPool(t, db, ring, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = counter }), counter
}

// openOnPool opens a store, as another process would, on a pool of its
// own whose configuration configure changes first.
func openOnPool(t *testing.T, db *storetest.DB, ring *keyring.Keyring, configure func(*pgxpool.Config)) *store.Store {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	configure(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := store.New(ctx, pool, db.Config, ring)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedSecrets writes n secrets named SECRET_00000... straight into the
// table with one COPY: the test is about reading them.
func seedSecrets(t *testing.T, db *storetest.DB, ring *keyring.Keyring, project string, n int) map[string]string {
	t.Helper()
	values := make(map[string]string, n)
	rows := make([][]any, 0, n)
	for i := range n {
		name := fmt.Sprintf("SECRET_%05d", i)
		value := fmt.Sprintf("%s-value-%05d", resolveCanary, i)
		token, kid, err := ring.Encrypt([]byte(value), keyring.SecretBinding(project, name, 1))
		if err != nil {
			t.Fatal(err)
		}
		values[name] = value
		rows = append(rows, []any{project, name, token, kid, true, "seed", "seed"})
	}
	_, err := db.Pool.CopyFrom(context.Background(), pgx.Identifier{"secrets"},
		[]string{"project", "name", "ciphertext", "kid", "bound", "created_by", "updated_by"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
	return values
}

func TestGetValuesReadsTenThousandInOneQuery(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	const n = 10000
	values := seedSecrets(t, db, ring, "app", n)
	seedSecrets(t, db, ring, "other", 3) // same names, another project: never returned

	s, counter := openCounted(t, db, ring)
	names := make([]string, 0, n+1)
	for name := range values {
		names = append(names, name)
	}
	names = append(names, "SECRET_00001", "NOT_THERE") // a repeat and a missing name
	before := len(db.Events(t))

	start := time.Now()
	got, err := s.GetValues(ctx, "app", names, "test render")
	t.Logf("GetValues of %d names: %v", len(names), time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	if q := counter.n.Load(); q != 1 {
		t.Errorf("GetValues of %d names read the secrets table in %d queries, want 1", n, q)
	}
	if len(got) != n {
		t.Fatalf("got %d secrets, want %d", len(got), n)
	}
	for name, want := range values {
		if string(got[name]) != want {
			t.Fatalf("secret %s: the value read is not the one written", name)
		}
	}
	if _, ok := got["NOT_THERE"]; ok {
		t.Error("a missing name is in the result")
	}

	events := db.Events(t)[before:]
	if len(events) != 1 {
		t.Fatalf("GetValues recorded %d audit events, want 1", len(events))
	}
	e := events[0]
	if e.Action != "secret.read" || e.Project != "app" || e.Subject != "" {
		t.Errorf("audit event: action %q project %q subject %q", e.Action, e.Project, e.Subject)
	}
	if strings.Contains(e.Details, resolveCanary) {
		t.Fatal("audit details contain a secret value")
	}
	var details struct {
		Purpose  string   `json:"purpose"`
		Names    []string `json:"names"`
		NotFound []string `json:"not_found"`
	}
	if err := json.Unmarshal([]byte(e.Details), &details); err != nil {
		t.Fatalf("audit details %.200s: %v", e.Details, err)
	}
	if details.Purpose != "test render" || len(details.Names) != n || details.Names[0] != "SECRET_00000" || !reflect.DeepEqual(details.NotFound, []string{"NOT_THERE"}) {
		t.Errorf("audit details: purpose %q, %d names starting %v, not_found %v", details.Purpose, len(details.Names), details.Names[:1], details.NotFound)
	}
	if err := verifyChain(t, db.Open(t, ring, "verifier")); err != nil {
		t.Errorf("audit chain after GetValues: %v", err)
	}
}

// LookupValues answers lined up with the names it is given, as
// secretref's Lookup wants them: a value for each name found, nil for
// each not, whatever order the server returns the rows in. Names not
// sorted and distinct are a caller's bug, refused before any read.
func TestLookupValuesLinesUpWithTheNames(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for _, name := range []string{"B", "D", "F"} {
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: name, Value: []byte("value-" + name), ExpectedRevision: store.MustNotExist}); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"A", "B", "C", "D", "E", "F", "G"}
	got, err := s.LookupValues(ctx, "app", names, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{nil, []byte("value-B"), nil, []byte("value-D"), nil, []byte("value-F"), nil}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupValues(%q) = %q, want %q", names, got, want)
	}
	if got, err := s.LookupValues(ctx, "app", nil, "test"); err != nil || got != nil {
		t.Errorf("no names: %q, %v", got, err)
	}
	before := len(db.Events(t))
	for _, bad := range [][]string{{"D", "B"}, {"B", "B"}} {
		if _, err := s.LookupValues(ctx, "app", bad, "test"); err == nil || !strings.Contains(err.Error(), "sorted and distinct") {
			t.Errorf("LookupValues(%q): error %v, want one about sorted, distinct names", bad, err)
		}
	}
	if after := len(db.Events(t)); after != before {
		t.Errorf("refused lookups recorded %d audit events", after-before)
	}
}

func TestGetValuesWithNoNamesReadsAndAuditsNothing(t *testing.T) {
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	s, counter := openCounted(t, db, ring)
	before := len(db.Events(t))
	counter.n.Store(0)
	got, err := s.GetValues(context.Background(), "app", nil, "test")
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
	if after := len(db.Events(t)); counter.n.Load() != 0 || after != before {
		t.Errorf("queries %d, audit events %d; want none", counter.n.Load(), after-before)
	}
}

func TestGetValuesRefusesCiphertextMovedFromAnotherRow(t *testing.T) {
	ctx := context.Background()
	s, db := newTestStore(t)
	for _, name := range []string{"A", "B"} {
		if _, err := s.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: name, Value: []byte(resolveCanary + name), ExpectedRevision: store.MustNotExist}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, "update secrets set ciphertext = (select ciphertext from secrets where name = 'A') where name = 'B'"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetValues(ctx, "app", []string{"A", "B"}, "test")
	if err == nil || !strings.Contains(err.Error(), `decrypt secret "app/B"`) || strings.Contains(err.Error(), resolveCanary) {
		t.Fatalf("error = %v; want a decrypt error naming app/B, without the value", err)
	}
}

func TestGetValuesRefusesInvalidProject(t *testing.T) {
	s, _ := newTestStore(t)
	if _, err := s.GetValues(context.Background(), "bad project", []string{"A"}, "test"); err == nil || !strings.Contains(err.Error(), `project "bad project" is not valid`) {
		t.Fatalf("error = %v", err)
	}
}

// A read's audit event lists every name read: 10,000 names make some
// 160 KB of details, which the server compresses inside the read's audit
// transaction, with lz4 (far faster than the default pglz) where the
// server has it. Events stored with pglz before the migration verify
// beside those stored with lz4.
func TestReadEventDetailsStoredWithLZ4(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	ring := testRootKeys(t)
	var lz4 bool
	if err := db.Pool.QueryRow(ctx, "select exists (select from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals))").Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	if !lz4 {
		t.Skip("this PostgreSQL is built without lz4: details keep pglz")
	}
	var migrated string
	if err := db.Pool.QueryRow(ctx, "select attcompression from pg_attribute where attrelid = 'audit_events'::regclass and attname = 'details'").Scan(&migrated); err != nil {
		t.Fatal(err)
	}
	if migrated != "l" {
		t.Errorf("after the migrations, audit_events.details compresses with %q, want l (lz4)", migrated)
	}
	values := seedSecrets(t, db, ring, "app", 10000)
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	s := db.Open(t, ring, "reader")
	read := func(compression string) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, "alter table audit_events alter column details set compression "+compression); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetValues(ctx, "app", names, "test render"); err != nil {
			t.Fatal(err)
		}
	}
	read("pglz") // as before the migration
	read("lz4")  // as the migration leaves it
	rows, err := db.Pool.Query(ctx, "select coalesce(pg_column_compression(details), 'none') from audit_events where action = 'secret.read' order by seq")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "pglz,lz4" {
		t.Errorf("read events' details compressed with %v, want pglz then lz4", got)
	}
	if err := verifyChain(t, db.Open(t, ring, "verifier")); err != nil {
		t.Errorf("audit chain with pglz and lz4 details: %v", err)
	}
}
