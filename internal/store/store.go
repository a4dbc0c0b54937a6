// Package store keeps secrets, data keys, model defaults and the audit
// chain in PostgreSQL. Every change and its audit event commit in one
// transaction, and writes are compare-and-swap on a revision number. All SQL
// of the product lives here.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// DefaultSchema is where the tables live unless configured otherwise.
const DefaultSchema = "pgsecrets"

// Config says how to reach the database and who is acting.
type Config struct {
	// DatabaseURL is a postgres:// URL or key=value string; empty means the
	// libpq PG* environment variables.
	DatabaseURL string
	// ReadURL, when set, reaches a standby of DatabaseURL's server, which
	// serves the repeated reads (see readpool.go); ReadURLSource names the
	// setting it came from, for messages.
	ReadURL       string
	ReadURLSource string
	Schema        string
	// Actor is recorded in audit events as the identity making changes.
	Actor string
	// Channel names the way writes come: ChannelCLI, ChannelTerraform or
	// ChannelDashboard, recorded with each secret written; empty when
	// unknown.
	Channel string
	// MaxConns bounds the pool; 0 keeps pgx's default.
	MaxConns int32
	// ApplicationName names the connections in pg_stat_activity unless the
	// URL or PGAPPNAME does; empty means "pgsecrets".
	ApplicationName string
	// Strict refuses ciphertexts that are not bound to their row and
	// version (unbound ones open in any row; row-only ones can be rolled
	// back). Turn it on once `pgsecrets key status` shows none.
	Strict bool
	// AllowUnregisteredRootKeys opens the store even when no configured root
	// key is registered in the database, for `pgsecrets key register`.
	AllowUnregisteredRootKeys bool
}

// Store is a handle on one database schema, shared by every caller. It is
// safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// read, when set, serves the reads a read URL may (readpool.go).
	read *readPool
	// wrote is set by this store's first write, shared by its copies:
	// from then on its reads go to the primary, which has that write.
	wrote  *atomic.Bool
	schema string
	actor  string
	keys   *keyring.Keyring
	strict bool

	// deployment is the database's identity (see migration 003).
	deployment string
	// rootCheck is where the configured root keys stand against the
	// database's registry, read at open.
	rootCheck rootKeyCheck
	// writes are a write's statements (see prepared.go).
	writes writeStatements
	// onProjectKeys is set when the store was on project keys at open (a
	// move that is never undone): only then has a read a project key to
	// open.
	onProjectKeys bool

	channel string

	// sessionKeys hash dashboard session tokens (see sessions.go), one per
	// root key, the first root key's first.
	sessionKeys [][]byte

	// audit is shared by the copies WithActor makes.
	audit *auditKeyCache
	// opening has callers that need the same project key at once (a
	// Terraform apply's parallel creates) wait for one unwrap, shared by
	// the copies WithActor makes: with a root in a key service, one call.
	opening *singleflight.Group
	// derived is true for a copy made by WithActor or Consistent, which does not own the
	// pool.
	derived bool
}

// auditKeyCache holds the open audit key this process appends with.
type auditKeyCache struct {
	mu  sync.Mutex
	key *audit.Key
}

// Channels a write can come through (Config.Channel).
const (
	ChannelCLI       = "cli"
	ChannelTerraform = "terraform"
	ChannelDashboard = "dashboard"
)

var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidateSchema checks a schema name: lower-case letters, digits and
// underscores, so it never needs quoting.
func ValidateSchema(schema string) error {
	if !schemaPattern.MatchString(schema) {
		return fmt.Errorf("schema %q: use lower-case letters, digits and underscores, starting with a letter or underscore (at most 63)", schema)
	}
	return nil
}

// Connect opens a pool. It sets no session state (the SQL here names its
// schema in every statement), so it works through a transaction pooler
// such as PgBouncer, where consecutive transactions of one client may run
// on different server connections.
//
// Statements run in pgx's cache_describe mode unless the URL chooses
// another with default_query_exec_mode: unnamed prepared statements, which
// a transaction pooler passes through, where the named ones of pgx's
// default mode would be left on one server connection and missed (or found
// twice) on the next.
func Connect(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	if err := ValidateSchema(cfg.Schema); err != nil {
		return nil, err
	}
	pcfg, err := parsePoolConfig(cfg.DatabaseURL, cfg)
	if err != nil {
		// pgx's parse errors can quote the URL, password included.
		return nil, errors.New("database URL is not valid: expected postgres://user:password@host:port/dbname or key=value pairs")
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pingThroughFailover(ctx, pool); err != nil {
		pool.Close()
		return nil, &ConnectError{Target: describeTarget(pcfg.ConnConfig), Err: unwrapConnectError(err)}
	}
	return pool, nil
}

// parsePoolConfig reads url into a pool configuration with cfg's pool
// size and application name. Its error may quote url: never show it.
func parsePoolConfig(url string, cfg Config) (*pgxpool.Config, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(url, "default_query_exec_mode") {
		pcfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	if pcfg.ConnConfig.RuntimeParams["application_name"] == "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = cmp.Or(cfg.ApplicationName, "pgsecrets")
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	return pcfg, nil
}

// FailoverWait bounds how long Connect waits for a primary when a
// failover looks under way.
const FailoverWait = 30 * time.Second

// pingThroughFailover pings the pool until a server answers, waiting (up
// to FailoverWait, or ctx's deadline if sooner) while a failover looks
// under way: every host of a multi-host URL down or read-only (the old
// primary gone, the standby not promoted yet), or a server starting up.
// Any other failure, such as the one host of a plain URL refusing
// connections or a wrong password, is reported at once.
func pingThroughFailover(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := throughFailover(ctx, pool, func() (struct{}, error) { return struct{}{}, pool.Ping(ctx) })
	return err
}

// throughFailover runs try, again and again while it fails because a
// failover looks under way, for up to FailoverWait (or until ctx ends).
// try must be safe to repeat: it fails before anything is changed.
func throughFailover[T any](ctx context.Context, pool *pgxpool.Pool, try func() (T, error)) (T, error) {
	deadline := time.Now().Add(FailoverWait)
	multiHost := strings.Contains(describeTarget(pool.Config().ConnConfig), ",")
	wait := 100 * time.Millisecond
	for {
		v, err := try()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) || !failoverUnderWay(err, multiHost) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// failoverUnderWay reports a failure to connect that a failover causes
// and a few seconds cure.
func failoverUnderWay(err error, multiHost bool) bool {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgconn.ErrReadOnlyConnection):
		return true
	case errors.As(err, &pgErr):
		return pgErr.Code == "57P03" // the database system is starting up, or not yet accepting connections
	}
	return multiHost && IsConnectionLoss(err)
}

// oneRoundTrip is the option to put before the arguments of a statement
// that a process typically sends once, such as the first read's: pgx's
// exec mode sends a statement and its arguments in one round trip, where
// the pool's cache_describe mode first describes a statement new to the
// connection in a round trip of its own. Both use an unnamed statement, so
// a transaction pooler passes either through. A URL that chose the simple
// protocol (for a pooler that speaks no other) keeps it.
func oneRoundTrip(q querier) []any {
	if p, ok := q.(*pgxpool.Pool); ok && p.Config().ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
		return nil
	}
	return []any{pgx.QueryExecModeExec}
}

// PoolTarget names the database a pool reaches, as user@host:port/dbname,
// for messages; it never includes the password.
func PoolTarget(pool *pgxpool.Pool) string { return describeTarget(pool.Config().ConnConfig) }

// describeTarget names every host of a multi-host URL (a primary and its
// standbys), in the order they are tried: after a failover, the first is
// not the one that failed.
func describeTarget(c *pgx.ConnConfig) string {
	hosts := []string{net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))}
	for _, f := range c.Fallbacks {
		// sslmode=prefer lists each host twice, with and without TLS.
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return fmt.Sprintf("%s@%s/%s", c.User, strings.Join(hosts, ","), c.Database)
}

// unwrapConnectError keeps the useful part of a connection failure.
func unwrapConnectError(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}

// ConnectError is a failed connection, described on one line: pgx reports
// each address it tried on a line of its own, often the same failure twice.
type ConnectError struct {
	Target string
	Err    error
}

func (e *ConnectError) Error() string {
	var kept []string
next:
	for _, l := range strings.Split(e.Err.Error(), "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		for _, k := range kept {
			if strings.Contains(k, l) {
				continue next
			}
		}
		kept = append(kept, l)
	}
	return fmt.Sprintf("connect to database %s: %s", e.Target, strings.Join(kept, "; "))
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Open connects, checks that the schema is migrated to this binary's
// version, and, in a store not yet on project keys, loads the data keys
// into keys.
func Open(ctx context.Context, cfg Config, keys *keyring.Keyring) (*Store, error) {
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	pool, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, pool, cfg, keys)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New wraps an existing pool (made by Connect); it checks the schema
// version and loads the data keys.
//
// With a nil keyring the store reads metadata only: secret lists, key
// usage, restart notices, the audit trail. Whatever needs a value, a key or
// an audit event fails with ErrNoRootKeys. Commands that read no value
// then run without the credential that decrypts everything.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config, keys *keyring.Keyring) (*Store, error) {
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	if err := CheckSchemaVersion(ctx, pool, cfg.Schema); err != nil {
		return nil, err
	}
	actor := cfg.Actor
	if actor == "" {
		actor = "unknown"
	}
	s := &Store{pool: pool, schema: cfg.Schema, actor: actor, channel: cfg.Channel, keys: keys, strict: cfg.Strict, audit: &auditKeyCache{}, opening: &singleflight.Group{}, wrote: &atomic.Bool{}}
	s.writes = s.buildWriteStatements()
	if err := pool.QueryRow(ctx, "select id from "+s.table("deployment")).Scan(&s.deployment); err != nil {
		return nil, fmt.Errorf("read deployment identity: %w", err)
	}
	if keys == nil {
		known, err := s.registeredKIDs(ctx)
		if err != nil {
			return nil, err
		}
		s.rootCheck.known = known
		if err := s.openReadPool(cfg); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := s.checkRootKeys(ctx, cfg.AllowUnregisteredRootKeys); err != nil {
		return nil, err
	}
	// A store on project keys opens a global data key only when a value
	// under one is read (decryptIn): a root a key service holds is then
	// not called at every start for keys nothing may need.
	_, onProjectKeys, err := s.ProjectKeysSince(ctx)
	if err != nil {
		return nil, err
	}
	s.onProjectKeys = onProjectKeys
	if !onProjectKeys {
		if err := s.LoadDataKeys(ctx); err != nil {
			return nil, err
		}
	}
	sessionKeys, err := keys.SessionKeys(s.deployment)
	if err != nil {
		return nil, err
	}
	s.sessionKeys = sessionKeys
	if err := s.openReadPool(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// openReadPool makes the pool of cfg.ReadURL, if any; it connects on first
// use.
func (s *Store) openReadPool(cfg Config) error {
	if cfg.ReadURL == "" {
		return nil
	}
	r, err := parseReadPool(cfg)
	if err != nil {
		return err
	}
	s.read = r
	return nil
}

// Close releases the pools. On a copy made by WithActor or Consistent it
// does nothing: the pools belong to the store it was made from.
func (s *Store) Close() {
	if !s.derived {
		s.pool.Close()
		if s.read != nil {
			s.read.pool.Close()
		}
	}
}

// WithActor returns a handle on the same store whose changes and reads are
// recorded under actor. It shares the pool, the keyring and the open audit
// key, so it costs nothing to make one per request.
//
// The dashboard serves many people from one process: each request acts as
// "dashboard:<email>". A per-request copy keeps the store's rule that the
// actor is fixed per handle, where an actor argument on every write method
// would have to be threaded, and could be forgotten, through all of them;
// and a second pool per person would multiply connections.
func (s *Store) WithActor(actor string) *Store {
	c := *s
	c.actor = actor
	c.derived = true
	return &c
}

// MaxConns is how many connections the store's pool may open: work that
// holds a connection per worker needs no more workers than that.
func (s *Store) MaxConns() int { return int(s.pool.Config().MaxConns) }

// Pool is the store's connection pool, for callers that stream large reads.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// HasKeys reports whether the store holds root keys; without them it reads
// metadata only.
func (s *Store) HasKeys() bool { return s.keys != nil }

// needKeys refuses an operation that needs root keys on a metadata-only
// store.
func (s *Store) needKeys(what string) error {
	if s.keys == nil {
		return &NoRootKeysError{What: what}
	}
	return nil
}

// Keyring is the keyring the store encrypts and decrypts with.
func (s *Store) Keyring() *keyring.Keyring { return s.keys }

// Schema is the schema the store works in.
func (s *Store) Schema() string { return s.schema }

// Deployment is the database's identity, made by the first migration.
func (s *Store) Deployment() string { return s.deployment }

// Strict reports whether ciphertexts without a full binding are refused.
func (s *Store) Strict() bool { return s.strict }

// table names one of the schema's tables (or functions), qualified and
// quoted, so that no statement depends on the session's search_path,
// which a transaction pooler does not keep.
func (s *Store) table(name string) string { return pgx.Identifier{s.schema, name}.Sanitize() }

// Actor is the audit identity of this store's changes.
func (s *Store) Actor() string { return s.actor }

// inTx runs fn, a change, in a transaction, committing when it returns
// nil. A connection lost once COMMIT was sent is an *OutcomeUnknownError:
// the server may have committed (and, with synchronous replication, a
// standby may have the commit) without being able to say so. Lost any
// earlier, the transaction was rolled back: a *NotAppliedError. The
// store's reads go to the primary from then on: a process reads its own
// writes (a Terraform apply's data source after the resource it depends
// on), which a standby may not have yet.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	s.wrote.Store(true)
	// A BEGIN that fails changed nothing: during a failover it waits for
	// the new primary, so that a write started then goes through.
	tx, err := throughFailover(ctx, s.pool, func() (pgx.Tx, error) { return s.pool.Begin(ctx) })
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	if err := fn(tx); err != nil {
		return lostChange(err, false)
	}
	return lostChange(tx.Commit(ctx), true)
}

// lostChange classifies the failure err of a change: a lost connection is
// an *OutcomeUnknownError once COMMIT may have reached the server
// (committing, and err not pgconn.SafeToRetry), otherwise a
// *NotAppliedError, since the server rolls back a transaction whose
// connection dies. Any other err is returned as it is.
func lostChange(err error, committing bool) error {
	if err == nil || !IsConnectionLoss(err) {
		return err
	}
	if committing && !pgconn.SafeToRetry(err) {
		return &OutcomeUnknownError{Err: err}
	}
	return &NotAppliedError{Err: err}
}

// committed checks the answer to a COMMIT sent in a batch: a transaction
// that had failed answers ROLLBACK.
func committed(tag pgconn.CommandTag) error {
	if tag.String() != "COMMIT" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// releaseEndingTx returns conn to the pool, rolling back first the
// transaction it was left in, if any: the pool would close a connection
// released inside one, and the rollback ends it on the server at once.
func releaseEndingTx(ctx context.Context, conn *pgxpool.Conn) {
	if c := conn.Conn(); !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "rollback")
	}
	conn.Release()
}

// readQueued reads what queue queues into a batch of its own, in one round
// trip: the functions that queue a read serve both their own method and a
// page that batches several reads.
func readQueued[T any](ctx context.Context, s *Store, queue func(*pgx.Batch, *T)) (T, error) {
	var out T
	b := &pgx.Batch{}
	queue(b, &out)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
