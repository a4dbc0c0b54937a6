package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// Audit chain keys are random, kept in the database wrapped under a root
// key, and rewrapped by reencrypt like data keys: verification needs only
// the current root keys, however many rotations ago an event was written.
// Each first root key gets its own audit key. When reencrypt moves away
// from a root key it also retires that root key's audit key (binding the
// last event it may key into the wrapping), so that whoever kept the old
// root key cannot append events that verify.

const auditKeySize = 32

// currentAuditKey is the open audit key of this process's first root key,
// made on first use. It works through q, the appending transaction: a
// second connection taken while holding one can deadlock a small pool.
func (s *Store) currentAuditKey(ctx context.Context, q pgx.Tx) (*audit.Key, error) {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	if s.audit.key != nil {
		return s.audit.key, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		kid, wrapped, err := s.readOpenAuditKey(ctx, q)
		if err == nil {
			return s.openAuditKeyLocked(kid, wrapped)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("read audit key: %w", err)
		}
		if err := s.createAuditKey(ctx, q); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("create audit key: another process keeps replacing it; retry")
}

// openedAuditKey is the audit key this process holds in memory, or nil.
func (s *Store) openedAuditKey() *audit.Key {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	return s.audit.key
}

// openAuditKey unwraps and caches the audit key read as kid and wrapped,
// unless this process holds its audit key already.
func (s *Store) openAuditKey(kid, wrapped string) (*audit.Key, error) {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	if s.audit.key != nil && s.audit.key.KID == kid {
		return s.audit.key, nil
	}
	return s.openAuditKeyLocked(kid, wrapped)
}

// openAuditKeyWhere is the condition on audit_keys (columns prefixed
// with alias) that picks the open audit key of the root key in $1: the one
// events are appended under, until a rotation retires it.
func openAuditKeyWhere(alias string) string {
	return alias + "wrapping_kid = $1 and " + alias + "scheme = " + strconv.Itoa(audit.SchemeDeployment) + " and " + alias + "last_seq = 0"
}

// readOpenAuditKey reads the open audit key of this process's first root
// key, still wrapped.
func (s *Store) readOpenAuditKey(ctx context.Context, q querier) (kid, wrapped string, err error) {
	err = q.QueryRow(ctx, "select kid, wrapped_key from "+s.table("audit_keys")+
		" where "+openAuditKeyWhere(""), s.keys.RootKey().KID).Scan(&kid, &wrapped)
	return kid, wrapped, err
}

// openAuditKeyLocked unwraps an audit key and caches it; s.audit.mu is
// held, so that one process unwraps its audit key once.
func (s *Store) openAuditKeyLocked(kid, wrapped string) (*audit.Key, error) {
	secret, err := s.keys.UnwrapAuditKey(wrapped, keyring.AuditKeyBinding(s.deployment, kid, audit.SchemeDeployment, 0))
	if err != nil {
		return nil, fmt.Errorf("open audit key %q: %w", kid, err)
	}
	s.audit.key = audit.NewKey(kid, audit.SchemeDeployment, 0, secret)
	return s.audit.key, nil
}

// createAuditKey stores a new open audit key under the first root key,
// unless another process has just done so (the unique index makes a
// concurrent insert wait for it, then do nothing).
func (s *Store) createAuditKey(ctx context.Context, q pgx.Tx) error {
	kid, err := keyring.NewKID(time.Now())
	if err != nil {
		return err
	}
	kid = "audit-" + kid
	secret := make([]byte, auditKeySize)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("read random audit key: %w", err)
	}
	wrapped, wrappingKID, err := s.keys.WrapAuditKey(secret, keyring.AuditKeyBinding(s.deployment, kid, audit.SchemeDeployment, 0))
	clear(secret)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, "insert into "+s.table("audit_keys")+
		" (kid, scheme, wrapped_key, wrapping_kid, created_by) values ($1, 2, $2, $3, $4) on conflict do nothing",
		kid, wrapped, wrappingKID, s.actor)
	if err != nil {
		return fmt.Errorf("store audit key: %w", err)
	}
	return nil
}

// forgetAuditKey drops the cached audit key, if it is still key.
func (s *Store) forgetAuditKey(key *audit.Key) {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	if s.audit.key == key {
		s.audit.key = nil
	}
}

// AuditKeys returns the function that gives a verifier each event's key:
// the stored audit keys, unwrapped with the root keys and checked against
// their binding, and for events of the first release, the key derived from
// the root key they name when it is still configured.
func (s *Store) AuditKeys(ctx context.Context) (audit.KeyFunc, error) {
	if err := s.needKeys("verify the audit chain"); err != nil {
		return nil, err
	}
	type stored struct {
		scheme          int
		wrapped         string
		lastSeq         int64
		unwrapped       *audit.Key
		unwrapErr       error
		unwrapAttempted bool
	}
	rows, err := s.pool.Query(ctx, "select kid, scheme, wrapped_key, last_seq from "+s.table("audit_keys"))
	if err != nil {
		return nil, fmt.Errorf("read audit keys: %w", err)
	}
	keys := map[string]*stored{}
	for rows.Next() {
		var kid string
		k := &stored{}
		if err := rows.Scan(&kid, &k.scheme, &k.wrapped, &k.lastSeq); err != nil {
			return nil, fmt.Errorf("read audit keys: %w", err)
		}
		keys[kid] = k
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit keys: %w", err)
	}
	return func(kid string) (*audit.Key, error) {
		k, ok := keys[kid]
		if !ok {
			// An event of the first release, keyed by a root key directly.
			secret, err := s.keys.LegacyAuditKey(kid)
			if err != nil {
				return nil, fmt.Errorf("no audit key %q is stored and no root key has that kid (was it retired before `pgsecrets reencrypt` stored its audit key?): %w", kid, err)
			}
			return audit.NewKey(kid, audit.SchemeRootDerived, 0, secret), nil
		}
		if !k.unwrapAttempted {
			k.unwrapAttempted = true
			secret, err := s.keys.UnwrapAuditKey(k.wrapped, keyring.AuditKeyBinding(s.deployment, kid, k.scheme, k.lastSeq))
			if err != nil {
				k.unwrapErr = fmt.Errorf("stored audit key cannot be opened: %w", err)
			} else {
				k.unwrapped = audit.NewKey(kid, k.scheme, k.lastSeq, secret)
			}
		}
		return k.unwrapped, k.unwrapErr
	}, nil
}

// AuditKeyRewrapResult is what RewrapAuditKeys did.
type AuditKeyRewrapResult struct {
	// Stored lists the first release's root-derived keys now kept wrapped.
	Stored []string `json:"stored"`
	// Rewrapped lists the audit keys now wrapped under the first root key.
	Rewrapped []string `json:"rewrapped"`
	// Retired lists the keys this run retired (they key no new events).
	Retired []string `json:"retired"`
}

// RewrapAuditKeys moves every audit key to the first root key, retiring
// those of other root keys at the current chain head, and stores the
// first release's root-derived keys for events that still need them, so
// that retiring a root key never makes the chain unverifiable. It runs in
// one transaction holding the chain head, so no event slips past a
// retirement.
func (s *Store) RewrapAuditKeys(ctx context.Context) (AuditKeyRewrapResult, error) {
	if err := s.needKeys("rewrap audit keys"); err != nil {
		return AuditKeyRewrapResult{}, err
	}
	var res AuditKeyRewrapResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = AuditKeyRewrapResult{}
		head, err := s.lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		if err := s.storeLegacyAuditKeys(ctx, tx, head, &res); err != nil {
			return err
		}
		root := s.keys.RootKey().KID
		rows, err := tx.Query(ctx, "select kid, scheme, wrapped_key, last_seq from "+s.table("audit_keys")+
			" where wrapping_kid <> $1 order by kid for update", root)
		if err != nil {
			return fmt.Errorf("read audit keys to rewrap: %w", err)
		}
		type row struct {
			kid, wrapped string
			scheme       int
			lastSeq      int64
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var k row
			return k, r.Scan(&k.kid, &k.scheme, &k.wrapped, &k.lastSeq)
		})
		if err != nil {
			return fmt.Errorf("read audit keys to rewrap: %w", err)
		}
		for _, k := range list {
			secret, err := s.keys.UnwrapAuditKey(k.wrapped, keyring.AuditKeyBinding(s.deployment, k.kid, k.scheme, k.lastSeq))
			if err != nil {
				return fmt.Errorf("rewrap audit key %q: %w", k.kid, err)
			}
			last := k.lastSeq
			if last == 0 {
				last = max(head, 1)
				res.Retired = append(res.Retired, k.kid)
			}
			wrapped, wrappingKID, err := s.keys.WrapAuditKey(secret, keyring.AuditKeyBinding(s.deployment, k.kid, k.scheme, last))
			clear(secret)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "update "+s.table("audit_keys")+" set wrapped_key = $2, wrapping_kid = $3, last_seq = $4 where kid = $1",
				k.kid, wrapped, wrappingKID, last); err != nil {
				return fmt.Errorf("rewrap audit key %q: %w", k.kid, err)
			}
			res.Rewrapped = append(res.Rewrapped, k.kid)
		}
		if len(res.Rewrapped) == 0 && len(res.Stored) == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionAuditKeyRewrap,
			Details: audit.Details(map[string]any{
				"rewrapped": nonNil(res.Rewrapped), "retired": nonNil(res.Retired), "stored": nonNil(res.Stored), "wrapping_kid": root,
			}),
		})
	})
	return res, err
}

// lockAuditHead holds the chain head until tx ends, so that no event is
// appended meanwhile, and returns its seq.
func (s *Store) lockAuditHead(ctx context.Context, tx pgx.Tx) (int64, error) {
	var head int64
	if err := tx.QueryRow(ctx, "select seq from "+s.table("audit_lock_head")+"('')").Scan(&head); err != nil {
		return 0, fmt.Errorf("lock audit chain head: %w", err)
	}
	return head, nil
}

// StoreLegacyAuditKeys keeps, wrapped under the first root key, the audit
// key of every configured root key that keyed events of the first release,
// so that those events still verify once that root key is retired. It
// returns the kids stored.
func (s *Store) StoreLegacyAuditKeys(ctx context.Context) ([]string, error) {
	if err := s.needKeys("store audit keys"); err != nil {
		return nil, err
	}
	var res AuditKeyRewrapResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = AuditKeyRewrapResult{}
		head, err := s.lockAuditHead(ctx, tx)
		if err != nil {
			return err
		}
		return s.storeLegacyAuditKeys(ctx, tx, head, &res)
	})
	return res.Stored, err
}

// storeLegacyAuditKeys keeps, wrapped, the key of every configured root key
// that keyed events of the first release, retired at head.
func (s *Store) storeLegacyAuditKeys(ctx context.Context, tx pgx.Tx, head int64, res *AuditKeyRewrapResult) error {
	rows, err := tx.Query(ctx, "select distinct e.mac_kid from "+s.table("audit_events")+" e where not exists (select 1 from "+
		s.table("audit_keys")+" k where k.kid = e.mac_kid)")
	if err != nil {
		return fmt.Errorf("find audit events keyed by root keys: %w", err)
	}
	kids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find audit events keyed by root keys: %w", err)
	}
	for _, kid := range kids {
		if !s.keys.IsRoot(kid) {
			continue // verify names it; nothing here can recover it
		}
		secret, err := s.keys.LegacyAuditKey(kid)
		if err != nil {
			return err
		}
		last := max(head, 1)
		wrapped, wrappingKID, err := s.keys.WrapAuditKey(secret, keyring.AuditKeyBinding(s.deployment, kid, audit.SchemeRootDerived, last))
		clear(secret)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "insert into "+s.table("audit_keys")+
			" (kid, scheme, wrapped_key, wrapping_kid, last_seq, created_by) values ($1, 1, $2, $3, $4, $5)",
			kid, wrapped, wrappingKID, last, s.actor); err != nil {
			return fmt.Errorf("store audit key %q: %w", kid, err)
		}
		res.Stored = append(res.Stored, kid)
	}
	return nil
}
