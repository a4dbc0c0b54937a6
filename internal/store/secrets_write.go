package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// PutSecret encrypts and writes a secret under its project's key (made in
// this transaction on the project's first write), with its audit event, in
// one transaction.
//
// Every writer of a deployment queues on the audit chain's head from the
// moment it locks it to its commit, so a write locks the head as late as
// it can and commits as soon as it can. Once this process holds the
// project's key and its audit key, a write takes two round trips
// (putSecretPipelined). Otherwise, as on a project's first write in a
// process, the key is opened or made before the head is locked, since
// that may call a key service.
func (s *Store) PutSecret(ctx context.Context, in PutSecretInput) (SecretMeta, error) {
	if err := ValidateProject(in.Project); err != nil {
		return SecretMeta{}, err
	}
	if err := ValidateSecretName(in.Name); err != nil {
		return SecretMeta{}, err
	}
	if err := in.ApplyPolicy(); err != nil {
		return SecretMeta{}, err
	}
	if err := s.needKeys("write a value"); err != nil {
		return SecretMeta{}, err
	}
	if meta, done, err := s.putSecretPipelined(ctx, in); done {
		return meta, err
	}
	what := secretWhat(in.Project, in.Name)
	var meta SecretMeta
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if in.SameIsDone {
			var held heldValue
			if err := held.scan(tx.QueryRow(ctx, s.writes.held, in.Project, in.Name)); err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
			same, _ := s.holdsSame(in, held, func(token string, binding keyring.Binding) (keyring.Decrypted, error) {
				return s.decryptIn(ctx, tx, in.Project, token, binding)
			})
			if same {
				meta = held.meta
				meta.Unchanged = true
				return nil
			}
		}
		var w writeStart
		if err := w.scan(tx.QueryRow(ctx, s.writes.start, startWriteArgs(in)...), in); err != nil {
			return fmt.Errorf("read revision of %s: %w", what, err)
		}
		noteDirect(tx.Conn(), w.serverPID)
		key, err := s.keyForWrite(ctx, tx, in.Project, w)
		if err != nil {
			return err
		}
		auditKey, head, err := s.lockHeadForAppend(ctx, tx)
		if err != nil {
			return err
		}
		wr, err := s.sealWrite(in, w, key, auditKey, head)
		if err != nil {
			return err
		}
		err = scanMeta(tx.QueryRow(ctx, wr.sql, wr.args...), &meta)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.conflict(ctx, tx, what, in.Project, in.Name, w.expected)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
		if wr.prune {
			return s.pruneSecretHistory(ctx, tx, in.Project, in.Name)
		}
		return nil
	})
	return meta, err
}

// putSecretPipelined writes in two round trips when this process holds
// the project's key and its audit key: BEGIN, the start of the write and
// the chain head's lock go in one; the write, sealed here with its audit
// event into one statement, and COMMIT in the other (with the history's
// limits applied in a round trip between them where a project has any).
// It classifies a lost connection as inTx does.
//
// done is false, with nothing written, when the longer way must write:
// the project's primary key is not one this process holds (another
// process rotated or made it), the store has not moved to project keys,
// the audit key turns out not to be stored, or a SameIsDone write finds a
// value under a key not opened yet.
func (s *Store) putSecretPipelined(ctx context.Context, in PutSecretInput) (meta SecretMeta, done bool, err error) {
	auditKey := s.openedAuditKey()
	if auditKey == nil || !s.keys.HoldsProjectKey(in.Project) {
		return SecretMeta{}, false, nil
	}
	s.wrote.Store(true)
	what := secretWhat(in.Project, in.Name)
	var (
		held heldValue
		w    writeStart
		head auditHead
	)
	start := &pgx.Batch{}
	start.Queue("begin")
	if in.SameIsDone {
		start.Queue(s.writes.held, in.Project, in.Name).QueryRow(held.scan)
	}
	start.Queue(s.writes.start, startWriteArgs(in)...).QueryRow(func(row pgx.Row) error { return w.scan(row, in) })
	// Last, as in the longer way: a write locks its row and its key, then
	// the head.
	start.Queue(s.writes.lockHead, auditKey.KID).QueryRow(func(row pgx.Row) error { return row.Scan(head.dest()...) })
	// Nothing is changed before the second round trip, so the first may
	// wait out a failover and run again, as inTx's BEGIN does.
	conn, err := throughFailover(ctx, s.pool, func() (*pgxpool.Conn, error) {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.prepareWrites(ctx, conn.Conn()); err != nil {
			releaseEndingTx(ctx, conn)
			return nil, err
		}
		if err := conn.SendBatch(ctx, start).Close(); err != nil {
			releaseEndingTx(ctx, conn)
			return nil, err
		}
		return conn, nil
	})
	if err != nil {
		return SecretMeta{}, true, lostChange(fmt.Errorf("write %s: %w", what, err), false)
	}
	defer releaseEndingTx(ctx, conn)
	noteDirect(conn.Conn(), w.serverPID)

	if head.lastSeq == nil {
		// Made in a transaction that rolled back: the longer way makes
		// another.
		s.forgetAuditKey(auditKey)
		return SecretMeta{}, false, nil
	}
	if err := s.checkAuditKeyOpen(auditKey, head); err != nil {
		return SecretMeta{}, true, err
	}
	key, ok := s.keys.ProjectKey(in.Project, w.projectKID)
	if w.legacyPrimary != nil || !ok {
		return SecretMeta{}, false, nil
	}
	same, openErr := s.holdsSame(in, held, func(token string, binding keyring.Binding) (keyring.Decrypted, error) {
		return s.keys.DecryptInProject(token, binding, in.Project)
	})
	var unknown *keyring.UnknownKIDError
	if errors.As(openErr, &unknown) {
		// Opening another key may call a key service: not while the
		// head is held.
		return SecretMeta{}, false, nil
	}
	if same {
		held.meta.Unchanged = true
		return held.meta, true, nil // the rollback ends a transaction that only locked
	}
	wr, err := s.sealWrite(in, w, key, auditKey, head)
	if err != nil {
		return SecretMeta{}, true, err
	}

	written, committing := false, !wr.prune
	b := &pgx.Batch{}
	b.Queue(wr.sql, wr.args...).QueryRow(func(row pgx.Row) error {
		err := scanMeta(row, &meta)
		written = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a compare-and-swap that failed: no row, no event
		}
		return err
	})
	if committing {
		b.Queue("commit").Exec(committed)
	}
	err = conn.SendBatch(ctx, b).Close()
	if err == nil && wr.prune {
		if written {
			err = s.pruneSecretHistory(ctx, conn, in.Project, in.Name)
		}
		if err == nil {
			committing = true
			var tag pgconn.CommandTag
			if tag, err = conn.Exec(ctx, "commit"); err == nil {
				err = committed(tag)
			}
		}
	}
	if err != nil {
		return SecretMeta{}, true, lostChange(fmt.Errorf("write %s: %w", what, err), committing)
	}
	if !written {
		return SecretMeta{}, true, s.conflict(ctx, conn, what, in.Project, in.Name, w.expected)
	}
	return meta, true, nil
}

// heldValue is the secret a SameIsDone write would replace, as
// heldValueSQL reads it.
type heldValue struct {
	found bool
	meta  SecretMeta
	token string
}

// heldValueSQL reads, row-locked so that no writer slips in before the
// comparison, the secret in $1/$2 with its ciphertext.
func (s *Store) heldValueSQL() string {
	return "select " + secretColumns + ", ciphertext from " + s.table("secrets") + " where project = $1 and name = $2 for update"
}

func (h *heldValue) scan(row pgx.Row) error {
	err := scanMeta(row, &h.meta, &h.token)
	h.found = err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// holdsSame reports whether held is exactly what in would write, opening
// its value with open. openErr is why a value could not be compared: it is
// then not the same, and the write replaces it, as it would without
// SameIsDone.
func (s *Store) holdsSame(in PutSecretInput, held heldValue, open func(token string, binding keyring.Binding) (keyring.Decrypted, error)) (same bool, openErr error) {
	// Only this actor's own write counts as done: comparing with what
	// another wrote would tell a writer who may not read values (a
	// dashboard editor) whether a guess is right, with nothing audited.
	m := held.meta
	if !held.found || m.UpdatedBy != s.actor || m.Description != in.Description || m.Category != in.Category || m.RequiresRestart != *in.RequiresRestart {
		return false, nil
	}
	d, err := open(held.token, keyring.SecretBinding(in.Project, in.Name, m.Revision))
	if err != nil {
		return false, err
	}
	defer clear(d.Plaintext)
	return subtle.ConstantTimeCompare(d.Plaintext, in.Value) == 1, nil
}

// secretWrite is a write encrypted, with its audit event sealed, ready to
// send as one statement.
type secretWrite struct {
	sql  string
	args []any
	// prune says the project's history limits apply after the write.
	prune bool
}

// sealWrite encrypts in's value bound to its row and next revision under
// key, and seals its audit event after head.
func (s *Store) sealWrite(in PutSecretInput, w writeStart, key *keyring.Key, auditKey *audit.Key, head auditHead) (secretWrite, error) {
	inserted := w.expected == MustNotExist
	token, err := keyring.EncryptWith(key, in.Value, keyring.SecretBinding(in.Project, in.Name, w.next))
	if err != nil {
		return secretWrite{}, err
	}
	action := in.Action
	if action == "" {
		action = WriteUpdate
		if inserted {
			action = WriteCreate
		}
	}
	details := map[string]any{"kid": key.KID, "revision": w.next, "category": in.Category, "requires_restart": *in.RequiresRestart}
	for k, v := range in.details {
		details[k] = v
	}
	event := s.sealAudit(auditKey, head, []*audit.Event{{
		Action: writeAuditAction(action), Project: in.Project, Subject: in.Name,
		Details: audit.Details(details),
	}})[0]
	revision, sql := w.expected, s.writes.update
	if inserted {
		revision, sql = w.next, s.writes.insert
	}
	args := append([]any{in.Project, in.Name, token, key.KID, in.Description, in.Category, s.actor, *in.RequiresRestart, revision, action, s.channel}, event...)
	return secretWrite{sql: sql, args: args, prune: !inserted && w.limited}, nil
}

// writeSQL is the statement of a write, whose parameters are $1-$11 the
// row (project, name, ciphertext, kid, description, category, actor,
// requires_restart, the revision inserted or the one replaced, action,
// channel) and $12-$22 the audit event in auditColumns' order. It returns
// the written row's metadata, or no row when the compare-and-swap failed,
// and then inserts no event either.
func (s *Store) writeSQL(insert bool) string {
	var write string
	if insert {
		write = `written as (
			insert into ` + s.table("secrets") + ` (project, name, ciphertext, kid, bound, description, category, created_by, updated_by, requires_restart, revision, last_action, updated_via)
			values ($1, $2, $3, $4, true, $5, $6, $7, $7, $8, $9, $10, $11)
			on conflict (project, name) do nothing
			returning ` + secretColumns + `
		)`
	} else {
		// The value being replaced becomes a version, in the same
		// statement as the compare-and-swap that replaces it.
		write = `old as (
			-- locked: a concurrent writer that got there first makes
			-- this empty, and the update below a conflict
			select * from ` + s.table("secrets") + ` where project = $1 and name = $2 and revision = $9 for update
		), kept as (
			insert into ` + s.table("secret_versions") + ` (project, name, revision, ciphertext, kid, bound, description, category, requires_restart, action, written_at, written_by)
			select project, name, revision, ciphertext, kid, bound, description, category, requires_restart, last_action, updated_at, updated_by from old
			returning revision
		), written as (
			-- reading kept orders the statement: the old value is kept
			-- before the row is replaced
			update ` + s.table("secrets") + ` set ciphertext = $3, kid = $4, bound = true, description = $5, category = $6, requires_restart = $8,
				revision = revision + 1, updated_at = now(), updated_by = $7, last_action = $10, updated_via = $11
			where project = $1 and name = $2 and revision = (select revision from kept)
			returning ` + secretColumns + `
		)`
	}
	return `with ` + write + `, logged as (
		insert into ` + s.table("audit_events") + ` (` + auditColumns + `)
		select $12::bigint, $13::timestamptz, $14::text, $15::text, $16::text, $17::text, $18::text, $19::text, $20::text, $21::text, $22::text from written
	)
	select * from written`
}

// writeStart is what a write reads before it encrypts.
type writeStart struct {
	expected int64 // the revision replaced, or MustNotExist
	next     int64 // the revision written, which the ciphertext is bound to
	limited  bool  // a keep or max-age retention applies to the project
	// projectKID is the project's primary key, share-locked; "" when the
	// project has none yet.
	projectKID string
	// legacyPrimary is set in a store that has not moved to project keys
	// yet (see migration 009): the primary data key's kid, share-locked,
	// or "" for the first root key. Its writes go where they always went.
	legacyPrimary *string
	// serverPID is the server process that answered (see noteDirect).
	serverPID uint32
}

// keyForWrite is the key a write encrypts with: its project's key, or in a
// store not yet moved to project keys, the primary data key or first root
// key, as before.
func (s *Store) keyForWrite(ctx context.Context, tx pgx.Tx, project string, w writeStart) (*keyring.Key, error) {
	if w.legacyPrimary == nil {
		return s.writeKey(ctx, tx, project, w.projectKID)
	}
	if err := s.followPrimary(ctx, tx, *w.legacyPrimary); err != nil {
		return nil, err
	}
	return s.keys.Primary(), nil
}

// startWriteSQL reads, in one round trip, what a write needs before it
// can encrypt: the project's primary key (share-locked), the revision to
// replace (row-locked, when the caller expects any), the revision the
// value will have, and whether the history has limits to apply. A secret
// created again after a delete continues its revisions, so that no old
// version's ciphertext fits the new row. Its arguments are startWriteArgs.
func (s *Store) startWriteSQL() string {
	// Only a store not yet moved to project keys locks the primary data
	// key: CASE evaluates that subquery only then.
	return "select " + s.primaryProjectKIDForShare("$1") + `,
		case when (select project_keys_since is null from ` + s.table("key_scheme") + `) then ` + s.primaryKIDForShare() + ` end,
		(select revision from ` + s.table("secrets") + ` where project = $1 and name = $2 and $3 for update),
		(select coalesce(max(revision), 0) from ` + s.table("secret_versions") + ` where project = $1 and name = $2),
		coalesce((select keep is not null or max_age is not null from ` + s.retentionFor("$1") + ` r), false),
		pg_backend_pid()`
}

func startWriteArgs(in PutSecretInput) []any {
	return []any{in.Project, in.Name, in.ExpectedRevision == AnyRevision}
}

// scan reads startWriteSQL's answer for the write in.
func (w *writeStart) scan(row pgx.Row, in PutSecretInput) error {
	var (
		current *int64
		history int64
	)
	if err := row.Scan(&w.projectKID, &w.legacyPrimary, &current, &history, &w.limited, &w.serverPID); err != nil {
		return err
	}
	w.expected = in.ExpectedRevision
	if w.expected == AnyRevision {
		w.expected = MustNotExist
		if current != nil {
			w.expected = *current
		}
	}
	w.next = w.expected + 1
	if w.expected == MustNotExist {
		w.next = history + 1
	}
	return nil
}

// writeAuditAction is the audit action of a write action.
func writeAuditAction(action string) string {
	switch action {
	case WriteCreate:
		return audit.ActionSecretCreate
	case WriteRollback:
		return audit.ActionSecretRollback
	case WriteUndelete:
		return audit.ActionSecretUndelete
	}
	return audit.ActionSecretUpdate
}

// conflict builds the error for a compare-and-swap that matched no row.
func (s *Store) conflict(ctx context.Context, q querier, what, project, name string, expected int64) error {
	var current int64
	err := q.QueryRow(ctx, "select revision from "+s.table("secrets")+" where project = $1 and name = $2", project, name).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		if expected == MustNotExist {
			return fmt.Errorf("write %s: row vanished during the write; retry", what)
		}
		return &NotFoundError{What: what}
	}
	if err != nil {
		return fmt.Errorf("read revision of %s: %w", what, err)
	}
	return &ConflictError{What: what, Expected: expected, Current: current}
}
