package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// Re-encryption keeps no progress record of its own: a row's kid and bound
// columns say whether it still needs work, so a rerun after a crash simply
// finds what is left. Each batch is one transaction (claim, rewrite, audit
// event), so a kill at any instant leaves every row either old or new.
//
// A re-encryption is not a write of the value: it keeps revision,
// updated_at and updated_by, so Terraform sees no change and a writer that
// read the row before still wins its compare-and-swap.

// ReencryptKIDCount is one kid's share of the secrets in scope.
type ReencryptKIDCount struct {
	KID string `json:"kid"`
	// Kind is "root", "data" or "unknown" (no key in the keyring has it).
	Kind    string `json:"kind"`
	Secrets int64  `json:"secrets"`
	// ToBind counts those not bound to their row and revision (by the
	// bound column: a hint, checked against each ciphertext when it is
	// re-encrypted).
	ToBind int64 `json:"to_bind"`
	// Pending is how many of them a reencrypt would rewrite: all of them
	// when the kid is not the primary's, else the unbound ones.
	Pending int64 `json:"pending"`
}

// RewrapCount is how many data keys one root key wraps that a reencrypt
// would rewrap under the first root key.
type RewrapCount struct {
	WrappingKID string `json:"wrapping_kid"`
	Known       bool   `json:"known"` // false: no root key has this kid
	DataKeys    int64  `json:"data_keys"`
}

// ReencryptPlan is what a reencrypt would do, read without changing
// anything.
type ReencryptPlan struct {
	PrimaryKID string              `json:"primary_kid"`
	RootKID    string              `json:"root_kid"`
	KIDs       []ReencryptKIDCount `json:"kids"`
	Rewrap     []RewrapCount       `json:"rewrap"`
}

// Totals sums the plan: every secret in scope, those a reencrypt would
// rewrite, and those it cannot because their kid is unknown.
func (p ReencryptPlan) Totals() (secrets, pending, unknown int64) {
	for _, k := range p.KIDs {
		secrets += k.Secrets
		if k.Kind == "unknown" {
			unknown += k.Pending
		} else {
			pending += k.Pending
		}
	}
	return secrets, pending, unknown
}

// UnknownKIDs lists the kids in scope that no key in the keyring has.
func (p ReencryptPlan) UnknownKIDs() []string {
	var out []string
	for _, k := range p.KIDs {
		if k.Kind == "unknown" {
			out = append(out, k.KID)
		}
	}
	return out
}

// PlanReencrypt counts, per kid, the secrets of project (every project when
// empty) and what a reencrypt would rewrite, and the data keys it would
// rewrap. It first brings the keyring up to date with the database, so a
// primary changed by another process is the one counted against.
func (s *Store) PlanReencrypt(ctx context.Context, project string) (ReencryptPlan, error) {
	if err := s.needKeys("plan a re-encryption"); err != nil {
		return ReencryptPlan{}, err
	}
	if err := s.LoadDataKeys(ctx); err != nil {
		return ReencryptPlan{}, err
	}
	plan := ReencryptPlan{PrimaryKID: s.keys.Primary().KID, RootKID: s.keys.RootKey().KID}
	rows, err := s.pool.Query(ctx, `
		select kid, count(*), count(*) filter (where not bound)
		from (
			select kid, bound from `+s.table("secrets")+` where $1 = '' or project = $1
			union all
			select kid, bound from `+s.table("secret_versions")+` where $1 = '' or project = $1
		) as x
		group by kid order by kid`, project)
	if err != nil {
		return ReencryptPlan{}, fmt.Errorf("count secrets per key: %w", err)
	}
	plan.KIDs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReencryptKIDCount, error) {
		var c ReencryptKIDCount
		return c, r.Scan(&c.KID, &c.Secrets, &c.ToBind)
	})
	if err != nil {
		return ReencryptPlan{}, fmt.Errorf("count secrets per key: %w", err)
	}
	for i := range plan.KIDs {
		c := &plan.KIDs[i]
		switch {
		case s.keys.IsRoot(c.KID):
			c.Kind = "root"
		case s.keys.Has(c.KID):
			c.Kind = "data"
		default:
			// Disabled data keys are not loaded, so their secrets count here:
			// they cannot be decrypted until the key is enabled again.
			c.Kind = "unknown"
		}
		c.Pending = c.ToBind
		if c.KID != plan.PrimaryKID {
			c.Pending = c.Secrets
		}
	}
	rows, err = s.pool.Query(ctx, `
		select wrapping_kid, count(*) from `+s.table("encryption_keys")+`
		where wrapping_kid <> $1 group by wrapping_kid order by wrapping_kid`, plan.RootKID)
	if err != nil {
		return ReencryptPlan{}, fmt.Errorf("count data keys to rewrap: %w", err)
	}
	plan.Rewrap, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (RewrapCount, error) {
		var c RewrapCount
		err := r.Scan(&c.WrappingKID, &c.DataKeys)
		c.Known = s.keys.IsRoot(c.WrappingKID)
		return c, err
	})
	if err != nil {
		return ReencryptPlan{}, fmt.Errorf("count data keys to rewrap: %w", err)
	}
	return plan, nil
}

// CountPendingReencrypt counts the secrets of project that still need
// re-encryption, leaving out those whose kid is in skipKIDs.
func (s *Store) CountPendingReencrypt(ctx context.Context, project string, skipKIDs []string) (int64, error) {
	var primary string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.syncPrimary(ctx, tx); err != nil {
			return err
		}
		primary = s.keys.Primary().KID
		return nil
	})
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.pool.QueryRow(ctx, `
		select (select count(*) from `+s.table("secrets")+`
		        where ($1 = '' or project = $1) and (kid <> $2 or not bound) and kid <> all($3))
		     + (select count(*) from `+s.table("secret_versions")+`
		        where ($1 = '' or project = $1) and (kid <> $2 or not bound) and kid <> all($3))`,
		project, primary, nonNil(skipKIDs)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count secrets left to re-encrypt: %w", err)
	}
	return n, nil
}

// RewrapResult is what RewrapDataKeys did.
type RewrapResult struct {
	Rewrapped []string `json:"rewrapped"`
	// Unknown counts the data keys per wrapping kid that no root key has:
	// they cannot be unwrapped, hence not rewrapped.
	Unknown map[string]int64 `json:"unknown,omitempty"`
	Failed  []ItemFailure    `json:"failed,omitempty"`
}

// ItemFailure is a row that could not be re-encrypted or rewrapped, and why.
// The reason never holds a value.
type ItemFailure struct {
	Project string `json:"project,omitempty"`
	Name    string `json:"name"` // secret name or data key kid
	KID     string `json:"kid"`
	Reason  string `json:"reason"`
}

// RewrapDataKeys rewraps, under the first root key, every data key wrapped
// under another root key, disabled keys included, so that the old root key
// can be retired. Data keys are few: one transaction does them all.
func (s *Store) RewrapDataKeys(ctx context.Context) (RewrapResult, error) {
	if err := s.needKeys("rewrap data keys"); err != nil {
		return RewrapResult{}, err
	}
	var res RewrapResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = RewrapResult{}
		root := s.keys.RootKey().KID
		// Every key, however few: besides those under another root key, those
		// wrapped before state and revision were bound need rewrapping, and
		// only their ciphertext says which they are.
		rows, err := tx.Query(ctx, "select kid, state, revision, wrapped_key, wrapping_kid from "+s.table("encryption_keys")+
			" order by kid for no key update")
		if err != nil {
			return fmt.Errorf("read data keys to rewrap: %w", err)
		}
		type wrappedKey struct {
			kid, state, wrapped, wrappingKID string
			revision                         int64
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (wrappedKey, error) {
			var k wrappedKey
			return k, r.Scan(&k.kid, &k.state, &k.revision, &k.wrapped, &k.wrappingKID)
		})
		if err != nil {
			return fmt.Errorf("read data keys to rewrap: %w", err)
		}
		var from []string
		for _, k := range keys {
			h, _ := keyring.ParseHeader(k.wrapped)
			if k.wrappingKID == root && h.Binding.Version() != "" {
				continue
			}
			if !s.keys.IsRoot(k.wrappingKID) {
				if res.Unknown == nil {
					res.Unknown = map[string]int64{}
				}
				res.Unknown[k.wrappingKID]++
				continue
			}
			key, err := s.unwrapDataKey(k.kid, k.state, k.revision, k.wrapped)
			if err != nil {
				res.Failed = append(res.Failed, ItemFailure{Name: k.kid, KID: k.wrappingKID, Reason: err.Error()})
				continue
			}
			wrapped, wrappingKID, err := s.keys.WrapDataKey(key, k.state, k.revision)
			if err != nil {
				return err
			}
			// The row is locked, so the revision cannot have moved; the check
			// is what makes this a compare-and-swap should that ever change.
			tag, err := tx.Exec(ctx, "update "+s.table("encryption_keys")+` set wrapped_key = $2, wrapping_kid = $3
				where kid = $1 and revision = $4`, k.kid, wrapped, wrappingKID, k.revision)
			if err != nil {
				return fmt.Errorf("rewrap %s: %w", keyWhat(k.kid), err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("rewrap %s: the key changed during the rewrap; run reencrypt again", keyWhat(k.kid))
			}
			res.Rewrapped = append(res.Rewrapped, k.kid)
			from = append(from, k.wrappingKID)
		}
		if len(res.Rewrapped) == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionKeyRewrap,
			Details: audit.Details(map[string]any{
				"count": len(res.Rewrapped), "kids": res.Rewrapped, "from_kids": from, "wrapping_kid": root,
			}),
		})
	})
	if err != nil {
		return RewrapResult{}, err
	}
	return res, nil
}

// ReencryptScan is one pass over the secrets table in physical order,
// shared by the batches of one process: each batch claims the rows needing
// work in the next range of heap pages, so concurrent batches never compete
// for the same rows, and each page is read once per pass whatever the table
// size (key order would visit pages at random, and each many times, once
// the table outgrows the cache). Batches of other processes, with scans of
// their own, skip the rows this one holds locked (FOR NO KEY UPDATE SKIP
// LOCKED), so several processes share the work through row locks alone.
//
// The pass ends at the table's size when it started: rows written since
// then, by writers or by the batches themselves, are under the primary key
// already. Needs PostgreSQL 14 or later (TID range scans).
type ReencryptScan struct {
	project     string
	skipKIDs    []string
	wait        bool
	bindUnbound bool
	// versions scans the kept earlier values instead of the secrets: the
	// same columns, each bound to its own revision, written back alike.
	versions bool

	mu      sync.Mutex
	started bool
	done    bool
	after   pgtype.TID // claims take rows after this one
	end     uint32     // the table's size in pages when the pass started
	width   uint32     // pages a claim looks at, adapted to hold a batch
	widest  uint32
}

// NewReencryptScan starts a pass over the secrets of project (every
// project when empty), leaving out kids in skipKIDs (known to be
// undecryptable). With wait, a batch waits for rows other transactions
// hold instead of skipping them: that is the final sweep, which must see
// every row. With bindUnbound, ciphertexts that carry no binding are bound
// to the row they sit in; without it they are reported and left alone,
// since nothing shows they belong there.
func NewReencryptScan(project string, skipKIDs []string, wait, bindUnbound bool) *ReencryptScan {
	return &ReencryptScan{project: project, skipKIDs: nonNil(skipKIDs), wait: wait, bindUnbound: bindUnbound}
}

// NewVersionsReencryptScan is NewReencryptScan over the secrets' kept
// earlier values (their history).
func NewVersionsReencryptScan(project string, skipKIDs []string, wait, bindUnbound bool) *ReencryptScan {
	scan := NewReencryptScan(project, skipKIDs, wait, bindUnbound)
	scan.versions = true
	return scan
}

// scanTable is the table a scan walks, qualified.
func (s *Store) scanTable(scan *ReencryptScan) string {
	if scan.versions {
		return s.table("secret_versions")
	}
	return s.table("secrets")
}

// ReencryptBatchResult is what one batch did.
type ReencryptBatchResult struct {
	// Claimed is how many rows the batch locked; 0 means the scan is over.
	Claimed     int
	Reencrypted int
	// Conflicts are rows whose revision moved between claim and write; they
	// are left for a later pass to re-read.
	Conflicts int
	Failed    []ItemFailure
	// Unknown counts rows per kid that no key in the keyring has, even
	// after reloading the data keys.
	Unknown map[string]int64
}

// MaxReencryptBatch is the most rows one re-encryption batch claims.
const MaxReencryptBatch = 100_000

// CheckReencryptBatch checks a batch size, for whoever takes one from a
// user before the first batch runs; what names it in the message (a
// flag, say).
func CheckReencryptBatch(what string, n int) error {
	if n < 1 || n > MaxReencryptBatch {
		return fmt.Errorf("%s %d is out of range: use 1 to %d", what, n, MaxReencryptBatch)
	}
	return nil
}

// ReencryptBatch claims up to limit rows of the scan that need work (not
// under the primary key, or unbound), decrypts each with its row binding
// checked, encrypts it again bound under the primary key, and writes them
// back with a compare-and-swap on revision and one audit event, in one
// transaction. The primary key row is share-locked meanwhile, so the
// primary cannot change under the batch.
func (s *Store) ReencryptBatch(ctx context.Context, scan *ReencryptScan, limit int) (ReencryptBatchResult, error) {
	if err := CheckReencryptBatch("batch size", limit); err != nil {
		return ReencryptBatchResult{}, err
	}
	var res ReencryptBatchResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = ReencryptBatchResult{}
		if err := s.syncPrimary(ctx, tx); err != nil {
			return err
		}
		primary := s.keys.Primary()
		claimed, err := s.claimForReencrypt(ctx, tx, scan, primary.KID, limit)
		if err != nil {
			return err
		}
		res.Claimed = len(claimed)
		if len(claimed) == 0 {
			return nil
		}
		w := reencryptWrite{table: s.scanTable(scan), kid: primary.KID}
		reloaded := map[string]bool{}
		for i := range claimed {
			row := &claimed[i]
			binding := keyring.SecretBinding(row.project, row.name, row.revision)
			d, err := s.keys.Decrypt(row.ciphertext, binding)
			var unknown *keyring.UnknownKIDError
			if errors.As(err, &unknown) && unknown.KID != "" && !reloaded[unknown.KID] {
				// A data key created by another process since we loaded ours.
				reloaded[unknown.KID] = true
				if err := s.loadDataKeys(ctx, tx); err != nil {
					return err
				}
				d, err = s.keys.Decrypt(row.ciphertext, binding)
			}
			if errors.As(err, &unknown) {
				if res.Unknown == nil {
					res.Unknown = map[string]int64{}
				}
				res.Unknown[row.kid]++
				continue
			}
			if err == nil && !d.Bound && (!scan.bindUnbound || s.strict) {
				clear(d.Plaintext)
				err = errUnboundLeft
			}
			if err != nil {
				res.Failed = append(res.Failed, ItemFailure{Project: row.project, Name: row.name, KID: row.kid, Reason: err.Error()})
				continue
			}
			token, kid, err := s.keys.Encrypt(d.Plaintext, binding)
			clear(d.Plaintext)
			if err != nil {
				return fmt.Errorf("re-encrypt %s: %w", secretWhat(row.project, row.name), err)
			}
			if kid != w.kid {
				return fmt.Errorf("re-encrypt %s: encrypted with %q while the batch expected primary %q; run reencrypt again", secretWhat(row.project, row.name), kid, w.kid)
			}
			w.add(row, token)
		}
		if len(w.claimed) == 0 {
			return nil
		}
		written, err := w.exec(ctx, tx)
		if err != nil {
			return err
		}
		res.Reencrypted = len(written)
		res.Conflicts = len(w.claimed) - len(written)
		if len(written) == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, reencryptEvent(w.kid, written, scan.versions))
	})
	if err != nil {
		return ReencryptBatchResult{}, fmt.Errorf("re-encrypt batch (scan at %s): %w", scan.position(), err)
	}
	return res, nil
}

// errUnboundLeft is the failure reported for an unbound ciphertext that a
// run without --bind-unbound leaves alone: binding it would vouch that it
// belongs to its row, which a database writer may have planted.
var errUnboundLeft = errors.New("ciphertext carries no binding, so it opens in any row: check that it is this secret's value, then run `pgsecrets reencrypt --bind-unbound`")

type claimedSecret struct {
	// ctid is where the row sits; the claim's lock keeps it there until
	// this transaction writes it.
	ctid                           pgtype.TID
	project, name, ciphertext, kid string
	revision                       int64
}

// claimForReencrypt locks the rows needing work in the next page ranges of
// the scan, moving on until it finds some or reaches the end. The scan's
// mutex is held only while the claim runs, so concurrent batches of one
// process take disjoint page ranges and do their crypto and writes in
// parallel.
func (s *Store) claimForReencrypt(ctx context.Context, tx pgx.Tx, scan *ReencryptScan, primaryKID string, limit int) ([]claimedSecret, error) {
	// The claim sorts a range's rows, ciphertexts included, by ctid; with the
	// default work_mem that sort goes to disk. SET LOCAL ends with the
	// transaction, so nothing is left on a pooled connection.
	if _, err := tx.Exec(ctx, "select set_config('work_mem', '64MB', true)"); err != nil {
		return nil, fmt.Errorf("claim secrets: %w", err)
	}
	scan.mu.Lock()
	defer scan.mu.Unlock()
	if scan.done {
		return nil, nil
	}
	if !scan.started {
		if err := scan.start(ctx, tx, s.scanTable(scan), limit); err != nil {
			return nil, err
		}
	}
	// NO KEY UPDATE is the lock an UPDATE of non-key columns takes: it
	// blocks writers of these rows, as needed, but not inserts elsewhere.
	lock := "for no key update skip locked"
	if scan.wait {
		lock = "for no key update"
	}
	where := ""
	if scan.project != "" {
		where = " and project = $6"
	}
	// Rows in physical order, within a bounded range of pages so that the
	// sort stays small and the TID range scan reads only those pages.
	sql := `
		select ctid, project, name, ciphertext, kid, revision from ` + s.scanTable(scan) + `
		where ctid > $3 and ctid < $4 and (kid <> $1 or not bound) and kid <> all($2)` + where + `
		order by ctid limit $5 ` + lock
	for scan.after.BlockNumber < scan.end {
		to := uint32(min(uint64(scan.after.BlockNumber)+uint64(scan.width), uint64(scan.end)))
		args := []any{primaryKID, scan.skipKIDs, scan.after, pgtype.TID{BlockNumber: to, Valid: true}, limit}
		if scan.project != "" {
			args = append(args, scan.project)
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("claim secrets in pages %d to %d: %w", scan.after.BlockNumber, to-1, err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimedSecret, error) {
			var c claimedSecret
			return c, r.Scan(&c.ctid, &c.project, &c.name, &c.ciphertext, &c.kid, &c.revision)
		})
		if err != nil {
			return nil, fmt.Errorf("claim secrets in pages %d to %d: %w", scan.after.BlockNumber, to-1, err)
		}
		if len(out) == limit {
			// The range may hold more: the next claim goes on after the last.
			// Narrow it back towards a batch's worth, so that the sort, which
			// sees the whole range, stays in memory.
			scan.after = out[len(out)-1].ctid
			scan.width = max(scan.width/2, 1)
			return out, nil
		}
		// The range is used up; where rows needing work are sparse (a
		// rerun, or pages emptied by vacuum), look at more pages at a time.
		scan.after = pgtype.TID{BlockNumber: to, Valid: true}
		if len(out) < limit/2 {
			scan.width = min(scan.width*2, scan.widest)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	scan.done = true
	return nil, nil
}

// start reads where the pass ends and guesses, from the table's statistics,
// how many pages hold a batch.
func (scan *ReencryptScan) start(ctx context.Context, tx pgx.Tx, table string, limit int) error {
	var (
		pages     int64
		reltuples float64
		relpages  int64
		version   int
	)
	err := tx.QueryRow(ctx, `
		select pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.reltuples, c.relpages,
		       current_setting('server_version_num')::int
		from pg_class c where c.oid = $1::regclass`, table).Scan(&pages, &reltuples, &relpages, &version)
	if err != nil {
		return fmt.Errorf("read the size of the secrets table: %w", err)
	}
	if version < 140000 {
		// Without TID range scans every claim would read the whole table.
		return fmt.Errorf("reencrypt needs PostgreSQL 14 or later; this server is version %d.%d: upgrade it", version/10000, version%10000)
	}
	perPage := 16.0 // a guess until the table has been analyzed
	if relpages > 0 && reltuples > 0 {
		perPage = max(reltuples/float64(relpages), 1)
	}
	// Twice what a batch needs, so most claims are full.
	scan.width = uint32(min(max(2*float64(limit)/perPage, 1), 1<<20))
	scan.widest = max(scan.width*16, 64)
	scan.end = uint32(min(pages, math.MaxUint32))
	scan.after = pgtype.TID{BlockNumber: 0, OffsetNumber: 0, Valid: true}
	scan.started = true
	return nil
}

func (scan *ReencryptScan) position() string {
	scan.mu.Lock()
	defer scan.mu.Unlock()
	if !scan.started {
		return "the start"
	}
	return fmt.Sprintf("page %d of %d", scan.after.BlockNumber, scan.end)
}

// reencryptWrite gathers a batch's new ciphertexts as column arrays, for
// one UPDATE ... FROM unnest(...).
type reencryptWrite struct {
	table       string // the secrets table, qualified
	kid         string
	claimed     []*claimedSecret
	ctids       []pgtype.TID
	revisions   []int64
	ciphertexts []string
}

func (w *reencryptWrite) add(row *claimedSecret, token string) {
	w.claimed = append(w.claimed, row)
	w.ctids = append(w.ctids, row.ctid)
	w.revisions = append(w.revisions, row.revision)
	w.ciphertexts = append(w.ciphertexts, token)
}

// reencryptedSecret is one row a batch rewrote, for its audit event.
type reencryptedSecret struct {
	project, name, fromKID string
}

// exec writes the batch, each row only if its revision is still the one
// read (compare-and-swap), and returns the rows written. A row is found by
// the ctid its claim locked: the lock keeps the row at that ctid (no one
// else can update or delete it) until this transaction ends, so ctid and
// revision name the claimed row without an index lookup, and only
// positions come back.
func (w *reencryptWrite) exec(ctx context.Context, tx pgx.Tx) ([]reencryptedSecret, error) {
	rows, err := tx.Query(ctx, `
		update `+w.table+` as s set ciphertext = u.ciphertext, kid = $4, bound = true
		from unnest($1::tid[], $2::bigint[], $3::text[]) with ordinality as u(ctid, revision, ciphertext, i)
		where s.ctid = u.ctid and s.revision = u.revision
		returning u.i`,
		w.ctids, w.revisions, w.ciphertexts, w.kid)
	if err != nil {
		return nil, fmt.Errorf("write re-encrypted secrets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reencryptedSecret, error) {
		var i int64
		if err := r.Scan(&i); err != nil || i < 1 || i > int64(len(w.claimed)) {
			return reencryptedSecret{}, fmt.Errorf("row %d of %d written: %v", i, len(w.claimed), err)
		}
		c := w.claimed[i-1]
		return reencryptedSecret{project: c.project, name: c.name, fromKID: c.kid}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("write re-encrypted secrets: %w", err)
	}
	return out, nil
}

// reencryptEvent is the one audit event of a batch: names and kids, grouped
// by project and former kid, never a value.
func reencryptEvent(kid string, written []reencryptedSecret, versions bool) *audit.Event {
	type group struct {
		Project string   `json:"project"`
		FromKID string   `json:"from_kid"`
		Names   []string `json:"names"`
	}
	index := map[[2]string]int{}
	var groups []group
	for _, w := range written {
		k := [2]string{w.project, w.fromKID}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, group{Project: w.project, FromKID: w.fromKID})
		}
		groups[i].Names = append(groups[i].Names, w.name)
	}
	sort.SliceStable(groups, func(a, b int) bool {
		if groups[a].Project != groups[b].Project {
			return groups[a].Project < groups[b].Project
		}
		return groups[a].FromKID < groups[b].FromKID
	})
	e := &audit.Event{
		Action:  audit.ActionSecretReencrypt,
		Details: audit.Details(map[string]any{"kid": kid, "count": len(written), "secrets": groups, "history": versions}),
	}
	if len(groups) == 1 || (len(groups) > 1 && groups[0].Project == groups[len(groups)-1].Project) {
		e.Project = groups[0].Project
	}
	return e
}

// nonNil turns a nil slice into an empty one: pgx sends nil as SQL NULL,
// and `kid <> all(NULL)` is never true.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
