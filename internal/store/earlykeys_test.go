package store_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// roundTrips counts what a pool's connections send: pgx writes all it sends
// before it waits for an answer in one write, so a write is a round trip.
// It also counts the statements (outside batches) that read project keys.
type roundTrips struct{ n, projectKeyReads atomic.Int64 }

func (c *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, `"project_keys"`) {
		c.projectKeyReads.Add(1)
	}
	return ctx
}

func (c *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countedConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
}

// openCountingRoundTrips opens a store as another process would, with the
// statement mode store.Connect chooses, on a pool whose round trips are
// counted.
func openCountingRoundTrips(t *testing.T, db *storetest.DB, ring *keyring.Keyring) (*store.Store, *roundTrips) {
	t.Helper()
	counter := &roundTrips{}
	s := openOnPool(t, db, ring, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		cfg.ConnConfig.Tracer = counter
		var dialer net.Dialer
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countedConn{c, &counter.n}, nil
		}
	})
	return s, counter
}

// readTwice reads names of project app twice through s, checking the
// values, and returns the round trips each read took.
func readTwice(t *testing.T, s *store.Store, counter *roundTrips, values map[string]string) (first, next int64) {
	t.Helper()
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	trips := make([]int64, 2)
	for i := range trips {
		before := counter.n.Load()
		got, err := s.GetValues(context.Background(), "app", names, "test")
		trips[i] = counter.n.Load() - before
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range values {
			if string(got[name]) != want {
				t.Fatalf("read %d: secret %s is not the value written", i+1, name)
			}
		}
	}
	t.Logf("round trips: first read %d, next %d", trips[0], trips[1])
	return trips[0], trips[1]
}

// writeSecrets writes three secrets of project app through a store of
// its own, whose keyring is not the reader's: the reader holds no key yet.
func writeSecrets(t *testing.T, db *storetest.DB, keys []*keyring.Key) map[string]string {
	t.Helper()
	w := db.Open(t, storetest.Ring(t, keys...), "writer")
	values := map[string]string{}
	for i := range 3 {
		name, value := fmt.Sprintf("K%d", i), fmt.Sprintf("%s-%d", resolveCanary, i)
		if _, err := w.PutSecret(context.Background(), store.PutSecretInput{Project: "app", Name: name, Value: []byte(value), ExpectedRevision: store.MustNotExist}); err != nil {
			t.Fatal(err)
		}
		values[name] = value
	}
	return values
}

// A process's first read needs the project key and the audit key it does
// not hold yet. Both come in one statement, sent with no describe first;
// besides it, the first read only describes the audit append's two
// statements, new to the connection. Before, the project key and the
// secrets were each read with a describe first.
func TestFirstReadOpensItsKeysInOneRoundTrip(t *testing.T) {
	db := storetest.NewDB(t)
	keys := testRootKeyList(t)
	values := writeSecrets(t, db, keys)
	s, counter := openCountingRoundTrips(t, db, storetest.Ring(t, keys...))
	first, next := readTwice(t, s, counter, values)
	if first > next+3 {
		t.Errorf("the first read took %d round trips, the next %d: want at most 3 more (the keys, and describing the audit append's statements)", first, next)
	}
	if n := counter.projectKeyReads.Load(); n != 1 {
		t.Errorf("the two reads read project keys in %d statements, want 1", n)
	}
}

// A store not on project keys has no project key to read: no read spends a
// round trip looking for one (the audit key comes with the chain head, in
// a round trip the append makes anyway).
func TestReadOfAStoreNotOnProjectKeysLooksForNoProjectKey(t *testing.T) {
	db := storetest.NewLegacyDB(t)
	keys := testRootKeyList(t)
	values := writeSecrets(t, db, keys)
	s, counter := openCountingRoundTrips(t, db, storetest.Ring(t, keys...))
	readTwice(t, s, counter, values)
	if n := counter.projectKeyReads.Load(); n != 0 {
		t.Errorf("the two reads read project keys in %d statements, want none", n)
	}
}
