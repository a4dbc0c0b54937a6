package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// Session is a signed-in browser of a dashboard account.
type Session struct {
	Account    Account
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end; IdleExpiresAt the end if no request
	// comes first.
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
}

// SessionTimeouts bound a session: Idle after its last request, Absolute
// after sign-in, whichever comes first.
type SessionTimeouts struct {
	Idle     time.Duration
	Absolute time.Duration
}

// sessionHash is what the database keeps of a session token: its
// HMAC-SHA256 under a key derived from the first root key. The token is
// 256 random bits, so no salt or slow hash is needed; a copy of the table
// signs nobody in, and whoever can write to the table but holds no root
// key cannot plant a session for a token of their own.
func (s *Store) sessionHash(token string) ([]byte, error) {
	hashes, err := s.sessionHashes(token)
	if err != nil {
		return nil, err
	}
	if hashes[0] == nil {
		return nil, errors.New("the first root key is held by a key service and its session key is not open: the dashboard opens it at start (Store.LoadSessionKeys)")
	}
	return hashes[0], nil
}

// sessionHashes are the token's hashes under every root key, the first
// root key's first: a session made before a key rotation is still found
// while its root key is configured.
func (s *Store) sessionHashes(token string) ([][]byte, error) {
	if err := s.needKeys("use a dashboard session"); err != nil {
		return nil, err
	}
	out := make([][]byte, len(s.sessionKeys))
	for i, k := range s.sessionKeys {
		if k == nil {
			// A wrapped root whose seed is not open in this process
			// (LoadSessionKeys): its sessions are not recognised here.
			continue
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte(token))
		out[i] = m.Sum(nil)
	}
	return out, nil
}

// touchEvery bounds how often a session's last request is written: a
// page's few requests then cost one write, and idle expiry is exact to
// within it.
const touchEvery = 15 * time.Second

// StartSession records a sign-in of account a: a session for token, and
// the account.signin audit event, in one transaction. address is the
// client's, as the dashboard sees it.
func (s *Store) StartSession(ctx context.Context, a Account, token string, t SessionTimeouts, address string) (Session, error) {
	if t.Idle < time.Microsecond || t.Absolute < time.Microsecond {
		return Session{}, errors.New("start session: idle and absolute timeouts must be positive")
	}
	hash, err := s.sessionHash(token)
	if err != nil {
		return Session{}, err
	}
	sess := Session{Account: a}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The database's clock, read first, so that the seal covers the
		// very times stored (PostgreSQL keeps microseconds).
		var now time.Time
		if err := tx.QueryRow(ctx, "select now()").Scan(&now); err != nil {
			return fmt.Errorf("start session of %s: %w", accountWhat(a.Email), err)
		}
		idle := t.Idle.Truncate(time.Microsecond)
		sess.CreatedAt, sess.LastSeenAt = now, now
		sess.ExpiresAt = now.Add(t.Absolute).Truncate(time.Microsecond)
		sess.IdleExpiresAt = now.Add(idle)
		if sess.IdleExpiresAt.After(sess.ExpiresAt) {
			sess.IdleExpiresAt = sess.ExpiresAt
		}
		seal := s.sessionSeal(0, hash, sessionTerms{accountID: a.ID, createdAt: now, expiresAt: sess.ExpiresAt, idleMicros: idle.Microseconds()})
		_, err := tx.Exec(ctx, "insert into "+s.table("dashboard_sessions")+
			` (token_hash, account_id, created_at, last_seen_at, idle_timeout, expires_at, address, seal) values ($1, $2, $3, $3, $4, $5, $6, $7)`,
			hash, a.ID, now, idle, sess.ExpiresAt, address, seal)
		if err != nil {
			return fmt.Errorf("start session of %s: %w", accountWhat(a.Email), dashboardPrivilege(err))
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionSignIn, Subject: a.Email,
			Details: audit.Details(map[string]any{"address": address}),
		})
	})
	return sess, err
}

// sessionTerms are what a session is bound to: a change to any of them in
// the table, by whoever may write there, makes the session invalid.
type sessionTerms struct {
	accountID            int64
	createdAt, expiresAt time.Time
	idleMicros           int64
}

// sessionSeal is the MAC, under the session key of root key i, that binds
// a session's stored token hash to its terms. Without it, a writer of the
// sessions table could re-point a viewer's session to an admin's account,
// or extend it by years, and the viewer's cookie would follow.
func (s *Store) sessionSeal(i int, tokenHash []byte, t sessionTerms) []byte {
	m := hmac.New(sha256.New, s.sessionKeys[i])
	m.Write([]byte("pgsecrets dashboard session seal v1\x00"))
	m.Write(tokenHash)
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:], uint64(t.accountID))
	binary.BigEndian.PutUint64(b[8:], uint64(t.createdAt.UnixMicro()))
	binary.BigEndian.PutUint64(b[16:], uint64(t.expiresAt.UnixMicro()))
	binary.BigEndian.PutUint64(b[24:], uint64(t.idleMicros))
	m.Write(b[:])
	return m.Sum(nil)
}

// SessionByToken returns the live session for token, with its account,
// and moves its idle expiry on. A session that expired (idle or absolute),
// was ended, whose account is disabled, or whose stored terms no longer
// match their seal is ErrNotFound, all alike.
func (s *Store) SessionByToken(ctx context.Context, token string) (Session, error) {
	hashes, err := s.sessionHashes(token)
	if err != nil {
		return Session{}, err
	}
	var (
		sess       Session
		found      []byte
		seal       []byte
		idleMicros int64
	)
	a := &sess.Account
	// The idle timeout is read as microseconds, whatever units a writer
	// put in the interval; a last request in the future counts as none.
	// Prepared where the connection allows (sendPrepared): every request
	// of the dashboard reads its session.
	b := &pgx.Batch{}
	b.Queue(`
		with found as (
			select t.token_hash, t.seal, t.created_at as session_created_at, t.idle_timeout, t.expires_at as session_expires_at, `+prefixed("a.", accountColumns)+`
			from `+s.table("dashboard_sessions")+` t join `+s.table("dashboard_accounts")+` a on a.id = t.account_id
			where t.token_hash = any($1) and t.expires_at > now() and t.last_seen_at <= now() and t.last_seen_at + t.idle_timeout > now() and not a.disabled
		), touched as (
			update `+s.table("dashboard_sessions")+` t set last_seen_at = now() from found
			where t.token_hash = found.token_hash and t.last_seen_at < now() - $2::interval
		)
		select `+accountColumns+`, token_hash, seal, (extract(epoch from idle_timeout) * 1000000)::bigint,
			session_created_at, now(), session_expires_at, least(now() + idle_timeout, session_expires_at) from found`,
		hashes, touchEvery).QueryRow(func(row pgx.Row) error {
		return row.Scan(&a.ID, &a.Email, &a.Role, &a.Projects, &a.Disabled, &a.CreatedAt, &a.CreatedBy, &a.UpdatedAt, &a.UpdatedBy,
			&found, &seal, &idleMicros, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt, &sess.IdleExpiresAt)
	})
	err = s.sendPrepared(ctx, b)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, &NotFoundError{What: "session"}
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", dashboardPrivilege(err))
	}
	terms := sessionTerms{accountID: a.ID, createdAt: sess.CreatedAt, expiresAt: sess.ExpiresAt, idleMicros: idleMicros}
	for i, h := range hashes {
		if h != nil && hmac.Equal(h, found) && hmac.Equal(seal, s.sessionSeal(i, found, terms)) {
			return sess, nil
		}
	}
	return Session{}, &NotFoundError{What: "session"}
}

// prefixed qualifies each column of a list like accountColumns.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i := range cols {
		cols[i] = prefix + cols[i]
	}
	return strings.Join(cols, ", ")
}

// EndSession signs a session out, with an account.signout audit event. A
// session already gone is not an error: signing out twice is harmless.
func (s *Store) EndSession(ctx context.Context, token string) error {
	hashes, err := s.sessionHashes(token)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var email string
		err := tx.QueryRow(ctx, "delete from "+s.table("dashboard_sessions")+" t using "+s.table("dashboard_accounts")+
			" a where t.token_hash = any($1) and a.id = t.account_id returning a.email", hashes).Scan(&email)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return s.appendAudit(ctx, tx, &audit.Event{Action: audit.ActionSignOut, Subject: email})
	})
}

// EndAccountSessions signs an account out everywhere, with its audit
// event, and returns how many sessions ended.
func (s *Store) EndAccountSessions(ctx context.Context, a Account) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if n, err = s.deleteSessions(ctx, tx, a.ID); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionSignOut, Subject: a.Email,
			Details: audit.Details(map[string]any{"everywhere": true, "sessions_ended": n}),
		})
	})
	return n, err
}

func (s *Store) deleteSessions(ctx context.Context, tx pgx.Tx, accountID int64) (int64, error) {
	tag, err := tx.Exec(ctx, "delete from "+s.table("dashboard_sessions")+" where account_id = $1", accountID)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CountSessions returns how many live sessions an account has.
func (s *Store) CountSessions(ctx context.Context, accountID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "select count(*) from "+s.table("dashboard_sessions")+
		" where account_id = $1 and expires_at > now() and last_seen_at + idle_timeout > now()", accountID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// PruneDashboardState deletes expired sessions and sign-in counters whose
// window closed before window ago. Housekeeping: expired rows already
// count for nothing, so it is not audited, and any replica may run it.
func (s *Store) PruneDashboardState(ctx context.Context, window time.Duration) error {
	_, err := s.pool.Exec(ctx, "delete from "+s.table("dashboard_sessions")+" where expires_at <= now() or last_seen_at + idle_timeout <= now()")
	if err != nil {
		return fmt.Errorf("prune expired sessions: %w", err)
	}
	_, err = s.pool.Exec(ctx, "delete from "+s.table("dashboard_signin_failures")+" where window_start <= now() - $1::interval", window)
	if err != nil {
		return fmt.Errorf("prune sign-in counters: %w", err)
	}
	return nil
}

// CheckDashboardRole tells, before `pgsecrets serve` takes a request,
// whether the database role it runs as may keep the dashboard's state,
// rather than failing at the first sign-in.
func (s *Store) CheckDashboardRole(ctx context.Context) error {
	var (
		role string
		ok   bool
	)
	err := s.pool.QueryRow(ctx, `select current_user::text,
		has_table_privilege($1, 'select, insert, delete') and has_column_privilege($1, 'last_seen_at', 'update')
		and has_column_privilege($2, 'password_hash', 'select') and has_table_privilege($3, 'select, insert, update, delete')
		and has_table_privilege($4, 'select')`,
		s.table("dashboard_sessions"), s.table("dashboard_accounts"), s.table("dashboard_signin_failures"), s.table("secret_counts")).Scan(&role, &ok)
	if err != nil {
		return fmt.Errorf("check the dashboard's rights: %w", err)
	}
	if !ok {
		return &DashboardRoleError{Role: role}
	}
	return nil
}

// DashboardRoleError refuses to serve the dashboard as a role that may not
// keep its accounts and sessions: the runtime role, most likely.
type DashboardRoleError struct {
	Role string
}

func (e *DashboardRoleError) Error() string {
	return fmt.Sprintf("database role %q may not keep the dashboard's accounts and sessions: run `pgsecrets migrate up --grant-dashboard %s` as the schema's owner, and run `pgsecrets serve` as that role (the runtime role that applications and Terraform hold may not touch them, so that it cannot make itself a dashboard admin)",
		e.Role, pgx.Identifier{e.Role}.Sanitize())
}
