package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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

// ReencryptKIDCount is one kid's share of the rows that need work.
type ReencryptKIDCount struct {
	KID string `json:"kid"`
	// Kind is "root", "data", "project" or "unknown" (no key in the
	// keyring or the database has it).
	Kind    string `json:"kind"`
	Secrets int64  `json:"secrets"`
	// ToBind counts those not bound to their row and revision (by the
	// bound column: a hint, checked against each ciphertext when it is
	// re-encrypted).
	ToBind int64 `json:"to_bind"`
	// Pending is how many of them a reencrypt would rewrite: all of them
	// when the kid is not its project's primary key, else the unbound ones.
	Pending int64 `json:"pending"`
}

// RewrapCount is how many keys one root key wraps that a reencrypt would
// rewrap under the first root key.
type RewrapCount struct {
	WrappingKID string `json:"wrapping_kid"`
	Known       bool   `json:"known"` // false: no root key has this kid
	DataKeys    int64  `json:"data_keys"`
	ProjectKeys int64  `json:"project_keys"`
}

// ReencryptPlan is what a reencrypt would do, read without changing
// anything. Only rows that need work are counted: those under a project's
// primary key, bound, are neither read nor counted (outside a --project
// run), so that planning a root rotation costs what the keys cost, however
// many secrets there are.
type ReencryptPlan struct {
	RootKID string `json:"root_kid"`
	// KIDs are the kids with work (or an unknown key) in scope.
	KIDs   []ReencryptKIDCount `json:"kids"`
	Rewrap []RewrapCount       `json:"rewrap"`
	// Current counts the secrets and versions already under their
	// project's primary key and bound; nil when not counted (every
	// project, where reading them would cost a pass over the store).
	Current *int64 `json:"current,omitempty"`
	// CurrentKeys counts the project primary keys in scope that already
	// hold every secret of their project; CurrentProjects are their
	// projects.
	CurrentKeys     int64    `json:"current_keys"`
	CurrentProjects []string `json:"-"`
	// Pending are the kids whose rows all need re-encrypting.
	Pending []string `json:"-"`
	// Projects, when not nil, are the only projects with work: every
	// pending kid is a project's retired key (a project key rotation). A
	// run then walks those projects only, not the whole store.
	Projects []string `json:"projects,omitempty"`
}

// Totals sums the plan: the rows with work in scope, those a reencrypt
// would rewrite, and those it cannot because their kid is unknown.
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

// ProjectKeysToRewrap sums the project keys the plan would rewrap.
func (p ReencryptPlan) ProjectKeysToRewrap() int64 {
	var n int64
	for _, r := range p.Rewrap {
		n += r.ProjectKeys
	}
	return n
}

// PlanReencrypt finds what a reencrypt of project (every project when
// empty) would do: the kids whose rows are not under their project's
// primary key, with their counts, and the keys it would rewrap. It reads
// the distinct kids from the kid indexes, one at a time, and counts only
// the rows of kids with work and the unbound ones.
func (s *Store) PlanReencrypt(ctx context.Context, project string) (ReencryptPlan, error) {
	if err := s.needKeys("plan a re-encryption"); err != nil {
		return ReencryptPlan{}, err
	}
	if err := s.LoadDataKeys(ctx); err != nil {
		return ReencryptPlan{}, err
	}
	plan := ReencryptPlan{RootKID: s.keys.RootKey().KID}
	kids, err := s.kidsInScope(ctx, s.pool, project)
	if err != nil {
		return ReencryptPlan{}, err
	}
	projectKIDs, err := s.projectKIDs(ctx, s.pool, kids)
	if err != nil {
		return ReencryptPlan{}, err
	}
	var current []string
	onlyProjects := true
	for _, kid := range kids {
		pk, ok := projectKIDs[kid]
		switch {
		case ok && pk.state == ProjectKeyPrimary:
			current = append(current, kid)
			continue
		case !ok:
			onlyProjects = false
		}
		plan.Pending = append(plan.Pending, kid)
	}
	counts, busy, err := s.countRowsByKID(ctx, project, plan.Pending, current)
	if err != nil {
		return ReencryptPlan{}, err
	}
	// A primary key is current only if nothing of its project is left to
	// do: rows under other keys, or unbound ones under it.
	for _, kid := range current {
		if p := projectKIDs[kid].project; !busy[p] {
			plan.CurrentKeys++
			plan.CurrentProjects = append(plan.CurrentProjects, p)
		}
	}
	for _, c := range counts {
		if c.ToBind > 0 && slices.Contains(current, c.KID) {
			onlyProjects = false
		}
		switch _, ok := projectKIDs[c.KID]; {
		case s.keys.IsRoot(c.KID):
			c.Kind = "root"
		case s.keys.Has(c.KID):
			c.Kind = "data"
		case ok:
			c.Kind = "project"
		default:
			// Disabled data keys are not loaded, so their secrets count here:
			// they cannot be decrypted until the key is enabled again.
			c.Kind = "unknown"
		}
		plan.KIDs = append(plan.KIDs, c)
	}
	if onlyProjects && project == "" {
		// The projects the rows are in, not those the keys belong to: a row
		// moved into another project under a key of the first must still be
		// met, to be reported.
		plan.Projects = sortedKeys(busy)
	}
	if project != "" {
		var n int64
		err := s.pool.QueryRow(ctx, `select (select count(*) from `+s.table("secrets")+` where project = $1 and kid = any($2) and bound)
			+ (select count(*) from `+s.table("secret_versions")+` where project = $1 and kid = any($2) and bound)`, project, nonNil(current)).Scan(&n)
		if err != nil {
			return ReencryptPlan{}, fmt.Errorf("count current secrets: %w", err)
		}
		plan.Current = &n
	}
	if plan.Rewrap, err = s.rewrapCounts(ctx, plan.RootKID); err != nil {
		return ReencryptPlan{}, err
	}
	return plan, nil
}

// kidsInScope lists the distinct kids of the secrets and versions of
// project (every project when empty). Over the whole store it walks the kid
// indexes one distinct kid at a time, a few index probes per kid whatever
// the number of rows.
func (s *Store) kidsInScope(ctx context.Context, q querier, project string) ([]string, error) {
	var sql string
	if project != "" {
		sql = "select kid from " + s.table("secrets") + " where project = $1 union select kid from " + s.table("secret_versions") + " where project = $1"
	} else {
		distinct := func(t string) string {
			return `(with recursive k(kid) as (
				(select kid from ` + t + ` order by kid limit 1)
				union all
				select (select x.kid from ` + t + ` x where x.kid > k.kid order by x.kid limit 1) from k where k.kid is not null
			) select kid from k where kid is not null)`
		}
		sql = distinct(s.table("secrets")) + " union " + distinct(s.table("secret_versions")) + " order by 1"
	}
	var args []any
	if project != "" {
		args = append(args, project)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list the keys in use: %w", err)
	}
	kids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the keys in use: %w", err)
	}
	sort.Strings(kids)
	return kids, nil
}

type projectKIDState struct{ project, state string }

// projectKIDs says which of kids are project keys, whose and in what state.
func (s *Store) projectKIDs(ctx context.Context, q querier, kids []string) (map[string]projectKIDState, error) {
	rows, err := q.Query(ctx, "select kid, project, state from "+s.table("project_keys")+" where kid = any($1)", nonNil(kids))
	if err != nil {
		return nil, fmt.Errorf("read project keys: %w", err)
	}
	defer rows.Close()
	out := map[string]projectKIDState{}
	for rows.Next() {
		var kid string
		var st projectKIDState
		if err := rows.Scan(&kid, &st.project, &st.state); err != nil {
			return nil, fmt.Errorf("read project keys: %w", err)
		}
		out[kid] = st
	}
	return out, rows.Err()
}

// countRowsByKID counts the rows of pending kids, and the unbound rows of
// current ones, in project (every project when empty), through the kid
// and unbound indexes, and says which projects have rows to rewrite.
func (s *Store) countRowsByKID(ctx context.Context, project string, pending, current []string) ([]ReencryptKIDCount, map[string]bool, error) {
	rows, err := s.pool.Query(ctx, `
		select kid, project, count(*), count(*) filter (where not bound), count(*) filter (where kid = any($2) or not bound)
		from (
			select kid, project, bound from `+s.table("secrets")+` where ($1 = '' or project = $1) and (kid = any($2) or (not bound and kid = any($3)))
			union all
			select kid, project, bound from `+s.table("secret_versions")+` where ($1 = '' or project = $1) and (kid = any($2) or (not bound and kid = any($3)))
		) as x
		group by kid, project order by kid`, project, nonNil(pending), nonNil(current))
	if err != nil {
		return nil, nil, fmt.Errorf("count secrets per key: %w", err)
	}
	defer rows.Close()
	var out []ReencryptKIDCount
	busy := map[string]bool{}
	for rows.Next() {
		var c ReencryptKIDCount
		var p string
		if err := rows.Scan(&c.KID, &p, &c.Secrets, &c.ToBind, &c.Pending); err != nil {
			return nil, nil, fmt.Errorf("count secrets per key: %w", err)
		}
		if c.Pending > 0 {
			busy[p] = true
		}
		if n := len(out); n > 0 && out[n-1].KID == c.KID {
			out[n-1].Secrets += c.Secrets
			out[n-1].ToBind += c.ToBind
			out[n-1].Pending += c.Pending
			continue
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("count secrets per key: %w", err)
	}
	return out, busy, nil
}

// rewrapCounts counts the data and project keys wrapped under another root
// key than root, per wrapping kid.
func (s *Store) rewrapCounts(ctx context.Context, root string) ([]RewrapCount, error) {
	rows, err := s.pool.Query(ctx, `
		select wrapping_kid, count(*) filter (where data), count(*) filter (where not data) from (
			select wrapping_kid, true as data from `+s.table("encryption_keys")+` where wrapping_kid <> $1
			union all
			select wrapping_kid, false from `+s.table("project_keys")+` where wrapping_kid <> $1
		) as x group by wrapping_kid order by wrapping_kid`, root)
	if err != nil {
		return nil, fmt.Errorf("count keys to rewrap: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RewrapCount, error) {
		var c RewrapCount
		err := r.Scan(&c.WrappingKID, &c.DataKeys, &c.ProjectKeys)
		c.Known = s.keys.IsRoot(c.WrappingKID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count keys to rewrap: %w", err)
	}
	return out, nil
}

// PendingReencrypt is what is left to re-encrypt in a scope.
type PendingReencrypt struct {
	// KIDs are the kids in scope that are not a project's primary key.
	KIDs []string
	// Rows counts the rows under them, and the unbound rows, leaving out
	// the kids a run was told to skip.
	Rows int64
}

// CountPendingReencrypt finds what still needs re-encryption in project
// (every project when empty), leaving out kids in skipKIDs.
func (s *Store) CountPendingReencrypt(ctx context.Context, project string, skipKIDs []string) (PendingReencrypt, error) {
	kids, err := s.kidsInScope(ctx, s.pool, project)
	if err != nil {
		return PendingReencrypt{}, err
	}
	projectKIDs, err := s.projectKIDs(ctx, s.pool, kids)
	if err != nil {
		return PendingReencrypt{}, err
	}
	var p PendingReencrypt
	for _, kid := range kids {
		if pk, ok := projectKIDs[kid]; !ok || pk.state != ProjectKeyPrimary {
			p.KIDs = append(p.KIDs, kid)
		}
	}
	err = s.pool.QueryRow(ctx, `
		select (select count(*) from `+s.table("secrets")+`
		        where ($1 = '' or project = $1) and (kid = any($2) or not bound) and kid <> all($3))
		     + (select count(*) from `+s.table("secret_versions")+`
		        where ($1 = '' or project = $1) and (kid = any($2) or not bound) and kid <> all($3))`,
		project, nonNil(p.KIDs), nonNil(skipKIDs)).Scan(&p.Rows)
	if err != nil {
		return PendingReencrypt{}, fmt.Errorf("count secrets left to re-encrypt: %w", err)
	}
	return p, nil
}

// RewrapResult is what RewrapDataKeys did.
type RewrapResult struct {
	Rewrapped []string `json:"rewrapped"`
	// ProjectKeys counts the project keys rewrapped (they can be many, so
	// they are counted, not listed; the audit event names them).
	ProjectKeys int64 `json:"project_keys"`
	// Unknown counts the data and project keys per wrapping kid that no
	// root key has: they cannot be unwrapped, hence not rewrapped.
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

// RewrapDataKeys rewraps, under the first root key, every data key and
// project key wrapped under another root key, disabled and retired keys
// included, so that the old root key can be retired. No secret is touched:
// this is the whole of a root rotation once every secret is under a
// project key. Keys number in the thousands at most: one transaction does
// them all, the project keys in statements of a thousand.
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
			if serviceDown(err) {
				return fmt.Errorf("rewrap %s: %w", keyWhat(k.kid), err)
			}
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
		if err := s.rewrapProjectKeys(ctx, tx, &res); err != nil {
			return err
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

// projectKeysPerStatement bounds the rows of one rewrap UPDATE.
const projectKeysPerStatement = 1000

// rewrapProjectKeys rewraps in tx every project key wrapped under another
// root key than the first, with one audit event that names them.
func (s *Store) rewrapProjectKeys(ctx context.Context, tx pgx.Tx, res *RewrapResult) error {
	root := s.keys.RootKey().KID
	rows, err := tx.Query(ctx, "select project, kid, state, revision, wrapped_key, wrapping_kid from "+s.table("project_keys")+
		" where wrapping_kid <> $1 order by kid for no key update", root)
	if err != nil {
		return fmt.Errorf("read project keys to rewrap: %w", err)
	}
	type wrappedKey struct {
		project, kid, state, wrapped, wrappingKID string
		revision                                  int64
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (wrappedKey, error) {
		var k wrappedKey
		return k, r.Scan(&k.project, &k.kid, &k.state, &k.revision, &k.wrapped, &k.wrappingKID)
	})
	if err != nil {
		return fmt.Errorf("read project keys to rewrap: %w", err)
	}
	var (
		kids, wrapped []string
		revisions     []int64
		from          = map[string]int64{}
		done          []string
	)
	flush := func() error {
		if len(kids) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, "update "+s.table("project_keys")+` as k set wrapped_key = u.wrapped, wrapping_kid = $4
			from unnest($1::text[], $2::bigint[], $3::text[]) as u(kid, revision, wrapped)
			where k.kid = u.kid and k.revision = u.revision`, kids, revisions, wrapped, root)
		if err != nil {
			return fmt.Errorf("rewrap project keys: %w", err)
		}
		if tag.RowsAffected() != int64(len(kids)) {
			return errors.New("rewrap project keys: a key changed during the rewrap; run reencrypt again")
		}
		done = append(done, kids...)
		kids, wrapped, revisions = kids[:0], wrapped[:0], revisions[:0]
		return nil
	}
	for _, k := range keys {
		if !s.keys.IsRoot(k.wrappingKID) {
			if res.Unknown == nil {
				res.Unknown = map[string]int64{}
			}
			res.Unknown[k.wrappingKID]++
			continue
		}
		key, err := s.keys.UnwrapProjectKey(k.project, k.kid, k.state, k.revision, k.wrapped)
		if serviceDown(err) {
			return fmt.Errorf("rewrap %s: %w", projectKeyWhat(k.project), err)
		}
		if err != nil {
			res.Failed = append(res.Failed, ItemFailure{Project: k.project, Name: k.kid, KID: k.wrappingKID, Reason: err.Error()})
			continue
		}
		w, _, err := s.keys.WrapProjectKey(k.project, key, k.state, k.revision)
		if err != nil {
			return err
		}
		kids, revisions, wrapped = append(kids, k.kid), append(revisions, k.revision), append(wrapped, w)
		from[k.wrappingKID]++
		if len(kids) == projectKeysPerStatement {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	res.ProjectKeys = int64(len(done))
	if len(done) == 0 {
		return nil
	}
	return s.appendAudit(ctx, tx, &audit.Event{
		Action: audit.ActionKeyRewrap,
		Details: audit.Details(map[string]any{
			"scope": "project", "count": len(done), "kids": done, "from_kids": from, "wrapping_kid": root,
		}),
	})
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
// then, by writers or by the batches themselves, are under their project's
// key already. Needs PostgreSQL 14 or later (TID range scans).
//
// A pass over one project walks that project's rows in key order instead
// (the primary key's index), so rotating one project's key reads that
// project alone, however large the store.
type ReencryptScan struct {
	project     string
	pending     []string
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
	// lastName and lastRevision are where a pass over one project is.
	lastName     string
	lastRevision int64
}

// NewReencryptScan starts a pass over the secrets of project (every
// project when empty) under the pending kids (PendingReencrypt.KIDs) or
// unbound, leaving out kids in skipKIDs (known to be undecryptable). With
// wait, a batch waits for rows other transactions
// hold instead of skipping them: that is the final sweep, which must see
// every row. With bindUnbound, ciphertexts that carry no binding are bound
// to the row they sit in; without it they are reported and left alone,
// since nothing shows they belong there.
func NewReencryptScan(project string, pending, skipKIDs []string, wait, bindUnbound bool) *ReencryptScan {
	return &ReencryptScan{project: project, pending: nonNil(pending), skipKIDs: nonNil(skipKIDs), wait: wait, bindUnbound: bindUnbound}
}

// NewVersionsReencryptScan is NewReencryptScan over the secrets' kept
// earlier values (their history).
func NewVersionsReencryptScan(project string, pending, skipKIDs []string, wait, bindUnbound bool) *ReencryptScan {
	scan := NewReencryptScan(project, pending, skipKIDs, wait, bindUnbound)
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
// under their project's primary key, or unbound), decrypts each with its
// row binding checked, encrypts it again bound under its project's primary
// key (made now for a project that has none yet), and writes them back with
// a compare-and-swap on revision and one audit event, in one transaction.
// The projects' primary key rows are share-locked meanwhile, so no key can
// be retired under the batch.
func (s *Store) ReencryptBatch(ctx context.Context, scan *ReencryptScan, limit int) (ReencryptBatchResult, error) {
	if err := CheckReencryptBatch("batch size", limit); err != nil {
		return ReencryptBatchResult{}, err
	}
	var res ReencryptBatchResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = ReencryptBatchResult{}
		if err := s.needKeys("re-encrypt secrets"); err != nil {
			return err
		}
		claimed, err := s.claimForReencrypt(ctx, tx, scan, limit)
		if err != nil {
			return err
		}
		res.Claimed = len(claimed)
		if len(claimed) == 0 {
			return nil
		}
		targets, err := s.projectWriteKeys(ctx, tx, claimed)
		if err != nil {
			return err
		}
		w := reencryptWrite{table: s.scanTable(scan)}
		tried := map[string]bool{} // kids looked up in the database once already
		for i := range claimed {
			row := &claimed[i]
			binding := keyring.SecretBinding(row.project, row.name, row.revision)
			d, err := s.keys.DecryptInProject(row.ciphertext, binding, row.project)
			var unknown *keyring.UnknownKIDError
			if errors.As(err, &unknown) && unknown.KID != "" && !tried[unknown.KID] {
				// A key this process has not opened yet: a project key, or a
				// data key created by another process since we loaded ours.
				// (A project key of another project is refused, not unknown.)
				tried[unknown.KID] = true
				d, err = s.decryptIn(ctx, tx, row.project, row.ciphertext, binding)
			}
			if serviceDown(err) {
				// The root's key service is down: every later batch would
				// wait for it again, and count its rows as under an
				// unknown key. Stop; nothing of the batch is written.
				return fmt.Errorf("%s: %w", secretWhat(row.project, row.name), err)
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
			target := targets[row.project]
			token, err := keyring.EncryptWith(target, d.Plaintext, binding)
			clear(d.Plaintext)
			if err != nil {
				return fmt.Errorf("re-encrypt %s: %w", secretWhat(row.project, row.name), err)
			}
			w.add(row, token, target.KID)
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
		return s.appendAudit(ctx, tx, reencryptEvent(written, scan.versions))
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

// projectWriteKeys returns, for each project of the claimed rows, the key
// its values are encrypted with: its primary key, share-locked until tx
// ends, or a new one for a project that has none yet.
func (s *Store) projectWriteKeys(ctx context.Context, tx pgx.Tx, claimed []claimedSecret) (map[string]*keyring.Key, error) {
	var projects []string
	seen := map[string]bool{}
	for _, c := range claimed {
		if !seen[c.project] {
			seen[c.project] = true
			projects = append(projects, c.project)
		}
	}
	sort.Strings(projects)
	rows, err := tx.Query(ctx, "select project, kid from "+s.table("project_keys")+
		" where project = any($1) and state = 'primary' order by project for share", projects)
	if err != nil {
		return nil, fmt.Errorf("read project keys: %w", err)
	}
	primaries := map[string]string{}
	for rows.Next() {
		var project, kid string
		if err := rows.Scan(&project, &kid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read project keys: %w", err)
		}
		primaries[project] = kid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read project keys: %w", err)
	}
	out := make(map[string]*keyring.Key, len(projects))
	for _, p := range projects {
		key, err := s.writeKey(ctx, tx, p, primaries[p])
		if err != nil {
			return nil, err
		}
		out[p] = key
	}
	return out, nil
}

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
func (s *Store) claimForReencrypt(ctx context.Context, tx pgx.Tx, scan *ReencryptScan, limit int) ([]claimedSecret, error) {
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
	if scan.project != "" {
		return s.claimInProject(ctx, tx, scan, limit, lock)
	}
	// Rows in physical order, within a bounded range of pages so that the
	// sort stays small and the TID range scan reads only those pages.
	sql := `
		select ctid, project, name, ciphertext, kid, revision from ` + s.scanTable(scan) + `
		where ctid > $3 and ctid < $4 and (kid = any($1) or not bound) and kid <> all($2)
		order by ctid limit $5 ` + lock
	for scan.after.BlockNumber < scan.end {
		to := uint32(min(uint64(scan.after.BlockNumber)+uint64(scan.width), uint64(scan.end)))
		args := []any{scan.pending, scan.skipKIDs, scan.after, pgtype.TID{BlockNumber: to, Valid: true}, limit}
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

// claimInProject locks the next rows of the scan's project that need work,
// in key order from where the last claim ended, through the primary key's
// index: a pass over one project reads that project's rows alone.
func (s *Store) claimInProject(ctx context.Context, tx pgx.Tx, scan *ReencryptScan, limit int, lock string) ([]claimedSecret, error) {
	// A secret's name is unique in its project, a version's with its
	// revision: each order is its table's primary key, read in order.
	after, order := "name > $3 and $6::bigint >= 0", "name"
	if scan.versions {
		after, order = "(name, revision) > ($3, $6)", "name, revision"
	}
	sql := `
		select ctid, project, name, ciphertext, kid, revision from ` + s.scanTable(scan) + `
		where project = $4 and ` + after + ` and (kid = any($1) or not bound) and kid <> all($2)
		order by ` + order + ` limit $5 ` + lock
	rows, err := tx.Query(ctx, sql, scan.pending, scan.skipKIDs, scan.lastName, scan.project, limit, scan.lastRevision)
	if err != nil {
		return nil, fmt.Errorf("claim secrets of project %q: %w", scan.project, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimedSecret, error) {
		var c claimedSecret
		return c, r.Scan(&c.ctid, &c.project, &c.name, &c.ciphertext, &c.kid, &c.revision)
	})
	if err != nil {
		return nil, fmt.Errorf("claim secrets of project %q: %w", scan.project, err)
	}
	scan.started = true
	if len(out) < limit {
		scan.done = true
	}
	if len(out) > 0 {
		scan.lastName, scan.lastRevision = out[len(out)-1].name, out[len(out)-1].revision
	}
	return out, nil
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
	switch {
	case !scan.started:
		return "the start"
	case scan.project != "":
		return fmt.Sprintf("project %q after %q", scan.project, scan.lastName)
	}
	return fmt.Sprintf("page %d of %d", scan.after.BlockNumber, scan.end)
}

// reencryptWrite gathers a batch's new ciphertexts as column arrays, for
// one UPDATE ... FROM unnest(...).
type reencryptWrite struct {
	table       string // the secrets table, qualified
	claimed     []*claimedSecret
	ctids       []pgtype.TID
	revisions   []int64
	ciphertexts []string
	kids        []string
}

func (w *reencryptWrite) add(row *claimedSecret, token, kid string) {
	w.claimed = append(w.claimed, row)
	w.ctids = append(w.ctids, row.ctid)
	w.revisions = append(w.revisions, row.revision)
	w.ciphertexts = append(w.ciphertexts, token)
	w.kids = append(w.kids, kid)
}

// reencryptedSecret is one row a batch rewrote, for its audit event.
type reencryptedSecret struct {
	project, name, fromKID, toKID string
}

// exec writes the batch, each row only if its revision is still the one
// read (compare-and-swap), and returns the rows written. A row is found by
// the ctid its claim locked: the lock keeps the row at that ctid (no one
// else can update or delete it) until this transaction ends, so ctid and
// revision name the claimed row without an index lookup, and only
// positions come back.
func (w *reencryptWrite) exec(ctx context.Context, tx pgx.Tx) ([]reencryptedSecret, error) {
	rows, err := tx.Query(ctx, `
		update `+w.table+` as s set ciphertext = u.ciphertext, kid = u.kid, bound = true
		from unnest($1::tid[], $2::bigint[], $3::text[], $4::text[]) with ordinality as u(ctid, revision, ciphertext, kid, i)
		where s.ctid = u.ctid and s.revision = u.revision
		returning u.i`,
		w.ctids, w.revisions, w.ciphertexts, w.kids)
	if err != nil {
		return nil, fmt.Errorf("write re-encrypted secrets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reencryptedSecret, error) {
		var i int64
		if err := r.Scan(&i); err != nil || i < 1 || i > int64(len(w.claimed)) {
			return reencryptedSecret{}, fmt.Errorf("row %d of %d written: %v", i, len(w.claimed), err)
		}
		c := w.claimed[i-1]
		return reencryptedSecret{project: c.project, name: c.name, fromKID: c.kid, toKID: w.kids[i-1]}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("write re-encrypted secrets: %w", err)
	}
	return out, nil
}

// reencryptEvent is the one audit event of a batch: names and kids, grouped
// by project and former kid, never a value.
func reencryptEvent(written []reencryptedSecret, versions bool) *audit.Event {
	type group struct {
		Project string   `json:"project"`
		FromKID string   `json:"from_kid"`
		KID     string   `json:"kid"`
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
			groups = append(groups, group{Project: w.project, FromKID: w.fromKID, KID: w.toKID})
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
		Details: audit.Details(map[string]any{"count": len(written), "secrets": groups, "history": versions}),
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

// serviceDown reports whether err is a key service (a KMS, an HSM) that
// holds a root key not answering. A run then stops, its transaction
// rolled back, rather than carry on and count every key or row it meets
// as failed: run it again once the service answers.
func serviceDown(err error) bool {
	var unavailable *keyring.KeyServiceUnavailableError
	return errors.As(err, &unavailable)
}
