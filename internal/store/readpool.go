package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// Reads from standbys. With a read URL (Config.ReadURL), the reads that a
// read-mostly load repeats (the values of run, render, resolved_config and
// secret get, and secret lists) come from the server that URL reaches,
// usually a streaming standby; everything else, the audit event of every
// read included, goes to the primary. A standby replays the primary's WAL
// in commit order, so what it serves is the whole state the primary had a
// moment ago: a value there may be the previous revision, never a mix.
//
// A store that has written reads everything on the primary from then on
// (see inTx): it reads its own writes. Otherwise three cases go back to the
// primary, where the answer is the latest:
// - a ciphertext whose key the process cannot open: key rows are read on
//   the primary (a key's state there is the authority), and a standby that
//   lags behind a reencrypt can still hold a value under a key the primary
//   has since pruned;
// - a name the standby does not have (a secret added a moment ago must not
//   turn into a missing one, or into the default a config falls back to);
// - a statement the standby cancelled to replay WAL (a recovery conflict).

// readPool is the pool a read URL opened. It connects on first use, so a
// command that only writes never reaches the standby, and a standby that is
// down fails the reads that need it, not the writes.
type readPool struct {
	pool *pgxpool.Pool
	// source names the setting the URL came from, for messages.
	source string

	mu      sync.Mutex
	checked bool
}

// ReadPoolError is a read URL that cannot serve reads: unreachable, another
// deployment, or a schema this binary does not read. The reads that needed
// it fail; --consistent (consistent = true) reads from the primary instead.
type ReadPoolError struct {
	Target string
	Source string
	Err    error
}

func (e *ReadPoolError) Error() string {
	from := ""
	if e.Source != "" {
		from = " (from " + e.Source + ")"
	}
	return fmt.Sprintf("read URL %s%s: %v; fix it, or read from the primary with --consistent (consistent = true in Terraform)", e.Target, from, e.Err)
}

func (e *ReadPoolError) Unwrap() error { return e.Err }

// ErrInvalidReadURL is a read URL that does not parse. Its message never
// quotes the URL: it may hold a password.
var ErrInvalidReadURL = errors.New("read URL is not valid: expected postgres://user:password@host:port/dbname or key=value pairs")

// ValidateReadURL checks that a read URL parses, before anything connects.
func ValidateReadURL(url string) error {
	if _, err := pgxpool.ParseConfig(url); err != nil {
		return ErrInvalidReadURL
	}
	return nil
}

// parseReadPool makes the pool of cfg.ReadURL without connecting.
func parseReadPool(cfg Config) (*readPool, error) {
	pcfg, err := parsePoolConfig(cfg.ReadURL, cfg)
	if err != nil {
		return nil, ErrInvalidReadURL
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("read URL: %w", err)
	}
	return &readPool{pool: pool, source: cfg.ReadURLSource}, nil
}

// reader is the pool this store's reads go to: the read URL's, checked on
// first use, else the primary's.
func (s *Store) reader(ctx context.Context) (querier, error) {
	if !s.ReadsFromReadURL() {
		return s.pool, nil
	}
	if err := s.read.check(ctx, s); err != nil {
		return nil, err
	}
	return s.read.pool, nil
}

// check makes sure, once, that the read URL reaches a copy of this
// database: the same deployment (a URL pointing at another database would
// serve its secrets as this one's) at this binary's schema version. A copy
// that matches proves nothing against an attacker who can write to it (the
// deployment id is a row like any other); ciphertexts bound to their row
// and revision, and key rows read on the primary, are what do.
func (r *readPool) check(ctx context.Context, s *Store) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checked {
		return nil
	}
	fail := func(err error) error {
		return &ReadPoolError{Target: PoolTarget(r.pool), Source: r.source, Err: err}
	}
	if err := r.pool.Ping(ctx); err != nil {
		return fail(unwrapConnectError(err))
	}
	if err := CheckSchemaVersion(ctx, r.pool, s.schema); err != nil {
		return fail(err)
	}
	var deployment string
	if err := r.pool.QueryRow(ctx, "select id from "+s.table("deployment")).Scan(&deployment); err != nil {
		return fail(fmt.Errorf("read deployment identity: %w", err))
	}
	if deployment != s.deployment {
		return fail(fmt.Errorf("it reaches deployment %s, not this database's %s: point it at a standby of the database URL's server", deployment, s.deployment))
	}
	r.checked = true
	return nil
}

// Consistent returns a handle on the same store whose reads all go to the
// primary: they see every change committed before they start. It shares
// the pools, keyring and audit key, like WithActor.
func (s *Store) Consistent() *Store {
	c := *s
	c.read = nil
	c.derived = true
	return &c
}

// ReadsFromReadURL reports whether this handle's reads go to a read URL,
// whose server may lag behind the primary: it has one, and has written
// nothing yet (see inTx).
func (s *Store) ReadsFromReadURL() bool { return s.read != nil && !s.wrote.Load() }

// onPrimaryInstead reports whether a read from the read URL that ended in
// err should be made again on the primary: see the package comment above.
func (s *Store) onPrimaryInstead(err error) bool {
	if !s.ReadsFromReadURL() || err == nil {
		return false
	}
	var unknown *keyring.UnknownKIDError
	var pgErr *pgconn.PgError
	return errors.As(err, &unknown) && unknown.KID != "" ||
		errors.Is(err, ErrNotFound) || errors.Is(err, errStandbyLacksNames) ||
		// 40001 on a standby: canceling statement due to conflict with recovery.
		errors.As(err, &pgErr) && pgErr.Code == "40001"
}

// errStandbyLacksNames is a read through the read URL that found fewer of
// the names asked for than it was asked: they may exist on the primary.
var errStandbyLacksNames = errors.New("the read URL lacks some of the names asked for")

// readSource is the audit detail of a read made through the read URL:
// whoever reviews the trail knows the value may be a previous revision.
func (s *Store) readSource(details map[string]any) map[string]any {
	if from := s.readFrom(); from != "" {
		details["read_from"] = from
	}
	return details
}

// readFrom is what a read event's "read_from" says: "read URL" for a read
// served by the read URL, else nothing.
func (s *Store) readFrom() string {
	if s.ReadsFromReadURL() {
		return "read URL"
	}
	return ""
}
