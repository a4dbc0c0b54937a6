// Package reencrypt moves every secret under its project's primary key and
// every key's wrapping under the first root key, online, in batches that each commit on their own. It
// keeps no progress record: the rows say what is left (their kid and
// binding), so a run killed at any point is finished by running it again,
// and several runs, in one process or many, share the work through row
// locks. It knows nothing of the command line; internal/cli renders what it
// reports.
package reencrypt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Defaults for Options.
const (
	DefaultBatchSize = 2500
	// maxFailuresKept bounds the failures listed in a Summary; the count is
	// always exact.
	maxFailuresKept = 100
	// maxSweeps bounds the final passes; more than one is needed only when
	// the primary key changes during the run.
	maxSweeps = 3
	// batchAttempts is how often a batch is tried when Postgres aborts it
	// for a deadlock or a serialization failure.
	batchAttempts = 3
	// DefaultRetryFor covers a managed database's failover, which drops
	// connections for seconds to a minute.
	DefaultRetryFor = 2 * time.Minute
	// Backoff between retries while the database is unreachable.
	retryFirstWait = 500 * time.Millisecond
	retryMaxWait   = 10 * time.Second
)

// Options say what to re-encrypt and how.
type Options struct {
	// Project limits the secrets to one project; keys are always all
	// rewrapped, a root rotation being one store-wide step.
	Project string
	// BatchSize is how many secrets one transaction rewrites.
	BatchSize int
	// Workers is how many batches run at once; 0 means DefaultWorkers(). It
	// is capped at the pool size.
	Workers int
	// DryRun counts what would change and changes nothing.
	DryRun bool
	// RotateProjectKey gives Project a new key first, so that the run
	// re-encrypts that project's secrets under it.
	RotateProjectKey bool
	// RotateOlderThan, when positive, first gives a new key to every
	// project whose key is older than this, then re-encrypts those
	// projects.
	RotateOlderThan time.Duration
	// BindUnbound binds ciphertexts that carry no binding to the row they
	// sit in. Without it they are reported and left alone: nothing but the
	// operator's check shows they belong there.
	BindUnbound bool
	// Progress, when set, is called after every batch; calls never overlap.
	Progress func(Progress)
	// RetryFor is how long a run keeps retrying while the database is
	// unreachable (a failover, a restart), counted from the first failure
	// in a row; 0 means DefaultRetryFor, a negative value never retries.
	RetryFor time.Duration
	// OnRetry, when set, is told of each retry: what failed and how long
	// the run waits before trying again.
	OnRetry func(err error, wait time.Duration)
}

// Progress is how far a run is.
type Progress struct {
	// Done counts the rows handled so far: rewritten, failed, or left
	// because their key is unknown.
	Done int64
	// Total is what needed work when the run started, plus what the final
	// sweep found left; it can grow once.
	Total       int64
	Reencrypted int64
}

// KIDCount is a kid no key in the keyring has, and how many rows use it.
type KIDCount struct {
	KID      string `json:"kid"`
	Secrets  int64  `json:"secrets"`
	DataKeys int64  `json:"data_keys"`
}

// Summary is what a run did (or, with DryRun, would do).
type Summary struct {
	DryRun    bool   `json:"dry_run"`
	Project   string `json:"project,omitempty"`
	RootKID   string `json:"root_kid"`
	Workers   int    `json:"workers"`
	BatchSize int    `json:"batch_size"`
	// Reencrypted counts the secrets this run rewrote (with DryRun, would
	// rewrite).
	Reencrypted int64 `json:"reencrypted"`
	// AlreadyCurrent counts the secrets in scope that were under their
	// project's primary key, bound, when the run started. It is counted
	// with Project only (nil otherwise): over the whole store, rows with
	// nothing to do are not read, so that a root rotation costs what the
	// keys cost.
	AlreadyCurrent *int64 `json:"already_current,omitempty"`
	// ProjectKeysCurrent counts the project keys that already held every
	// secret of their project.
	ProjectKeysCurrent int64 `json:"project_keys_current"`
	// ProjectKeysRotated lists the projects given a new key by this run
	// (with DryRun, those that would be).
	ProjectKeysRotated []string `json:"project_keys_rotated,omitempty"`
	// ProjectKeysDeleted lists the retired project keys destroyed at the
	// end, once nothing was under them any more.
	ProjectKeysDeleted []string `json:"project_keys_deleted,omitempty"`
	// Retried counts rows rewritten on a second look: they were locked by
	// another transaction or changed between read and write.
	Retried int64 `json:"retried"`
	// Failed counts rows that could not be decrypted for a reason other than
	// an unknown key (moved, tampered or corrupt ciphertext); Failures lists
	// the first of them.
	Failed   int64               `json:"failed"`
	Failures []store.ItemFailure `json:"failures,omitempty"`
	// DataKeysRewrapped lists the data keys now wrapped under the first root
	// key (with DryRun, the count of those that would be, in DataKeysToRewrap).
	DataKeysRewrapped []string `json:"data_keys_rewrapped"`
	DataKeysToRewrap  int64    `json:"data_keys_to_rewrap"`
	// ProjectKeysRewrapped counts the project keys now wrapped under the
	// first root key (with DryRun, ProjectKeysToRewrap those that would be).
	ProjectKeysRewrapped int64 `json:"project_keys_rewrapped"`
	ProjectKeysToRewrap  int64 `json:"project_keys_to_rewrap"`
	// AuditKeys is what happened to the audit chain keys: moved to the
	// first root key, retired, or stored for events of the first release.
	AuditKeys store.AuditKeyRewrapResult `json:"audit_keys"`
	// UnknownKIDs are kids found in rows that no key in the keyring has.
	UnknownKIDs []KIDCount `json:"unknown_kids"`
	// Plan is the per-kid count behind a dry run.
	Plan           *store.ReencryptPlan `json:"plan,omitempty"`
	ElapsedSeconds float64              `json:"elapsed_seconds"`
}

// IncompleteError is returned, with the Summary, when a run did everything
// it could but some rows remain under an old key.
type IncompleteError struct {
	Unknown []KIDCount
	Failed  int64
	First   *store.ItemFailure
}

func (e *IncompleteError) Error() string {
	var parts []string
	if len(e.Unknown) > 0 {
		var kids []string
		for _, u := range e.Unknown {
			var n []string
			if u.Secrets > 0 {
				n = append(n, fmt.Sprintf("%d secret(s)", u.Secrets))
			}
			if u.DataKeys > 0 {
				n = append(n, fmt.Sprintf("%d data key(s)", u.DataKeys))
			}
			kids = append(kids, fmt.Sprintf("%q (%s)", u.KID, strings.Join(n, ", ")))
		}
		parts = append(parts, fmt.Sprintf("kid %s in no key of the keyring; add the root key back to the root keys, or enable its data key, and run reencrypt again",
			strings.Join(kids, ", ")))
	}
	if e.Failed > 0 {
		msg := fmt.Sprintf("%d row(s) could not be decrypted", e.Failed)
		if e.First != nil {
			what := e.First.Name
			if e.First.Project != "" {
				what = e.First.Project + "/" + e.First.Name
			}
			msg += fmt.Sprintf(" (first: %s: %s)", what, e.First.Reason)
		}
		parts = append(parts, msg+"; see the failures listed above")
	}
	return "reencrypt incomplete: " + strings.Join(parts, "; ")
}

// Run rewraps the data keys and re-encrypts the secrets in scope, then
// sweeps once more for rows that were busy the first time. Every row it can
// decrypt ends under the primary key, bound. When some cannot (unknown kid,
// failed decryption) it still does all the others, then returns the
// Summary with an *IncompleteError.
func Run(ctx context.Context, st *store.Store, opts Options) (Summary, error) {
	start := time.Now()
	opts, err := normalize(st, opts)
	if err != nil {
		return Summary{}, err
	}
	outage := &outage{}
	if !opts.DryRun {
		// A store from before project keys moves now: new values go under
		// their project's key, and this run moves the others.
		if _, err := withRetry(ctx, opts, outage, func() (bool, error) { return st.UseProjectKeys(ctx) }); err != nil {
			return Summary{}, err
		}
	}
	// A rotation retried after its commit was lost rotates once more: the
	// key in between holds nothing and is destroyed at the end.
	rotated, err := withRetry(ctx, opts, outage, func() ([]string, error) { return rotate(ctx, st, opts) })
	if err != nil {
		return Summary{}, err
	}
	plan, err := withRetry(ctx, opts, outage, func() (store.ReencryptPlan, error) { return st.PlanReencrypt(ctx, opts.Project) })
	if err != nil {
		return Summary{}, err
	}
	sum, unknown, pending := planned(plan, opts)
	sum.ProjectKeysRotated = rotated
	if opts.DryRun {
		// The keys a dry run would rotate are still primary: their secrets,
		// current in the plan, are what the rotation would re-encrypt.
		more, err := withRetry(ctx, opts, outage, func() (int64, error) { return underRotatedKeys(ctx, st, plan, opts.Project, rotated) })
		if err != nil {
			return Summary{}, err
		}
		if sum.AlreadyCurrent != nil {
			current := *sum.AlreadyCurrent - more
			sum.AlreadyCurrent = &current
		}
		for _, p := range rotated {
			if slices.Contains(plan.CurrentProjects, p) {
				sum.ProjectKeysCurrent--
			}
		}
		sum.Plan = &plan
		sum.Reencrypted = pending + more
		sum.UnknownKIDs = unknown.list()
		sum.ElapsedSeconds = time.Since(start).Seconds()
		return sum, nil
	}

	rw, err := withRetry(ctx, opts, outage, func() (store.RewrapResult, error) { return st.RewrapDataKeys(ctx) })
	if err != nil {
		return sum, err
	}
	sum.DataKeysRewrapped = append(sum.DataKeysRewrapped, rw.Rewrapped...)
	sum.ProjectKeysRewrapped = rw.ProjectKeys
	for kid, n := range rw.Unknown {
		unknown.setDataKeys(kid, n)
	}
	var keyFailures []store.ItemFailure
	keyFailures = append(keyFailures, rw.Failed...)
	if sum.AuditKeys, err = withRetry(ctx, opts, outage, func() (store.AuditKeyRewrapResult, error) { return st.RewrapAuditKeys(ctx) }); err != nil {
		return sum, err
	}

	prog := &progress{fn: opts.Progress, total: pending}
	skip := plan.UnknownKIDs()
	var pass passResult
	if pending+unknownRows(plan) > 0 {
		pass, err = rowsPass(ctx, st, plan.Projects, plan.Pending, skip, false, opts, prog, outage)
		sum.Reencrypted += pass.reencrypted
		sum.Retried += pass.conflicts
		if err != nil {
			return sum, err
		}
	}
	last := pass
	// The sweep looks where the pass did: with a project key rotation, in
	// the rotated projects alone, so that it neither reads the whole store
	// nor waits for the locks of another project's writers or rotation.
	scopes := []string{opts.Project}
	if opts.Project == "" && plan.Projects != nil {
		scopes = plan.Projects
	}
	for sweep := 0; sweep < maxSweeps; sweep++ {
		// Rows another process or writer held locked were skipped, and a
		// batch that lost a race left its row: count what is left, and if
		// anything beyond our own failures is, sweep again, this time
		// waiting for locks so that nothing is skipped.
		skip = append(plan.UnknownKIDs(), last.unknownKIDs()...)
		left, err := withRetry(ctx, opts, outage, func() (store.PendingReencrypt, error) { return countPending(ctx, st, scopes, skip) })
		if err != nil {
			return sum, err
		}
		if left.Rows <= int64(last.failed) {
			break
		}
		prog.grow(left.Rows)
		// What is left may be anywhere in the scope.
		sw, err := rowsPass(ctx, st, plan.Projects, left.KIDs, skip, true, opts, prog, outage)
		sum.Reencrypted += sw.reencrypted
		sum.Retried += sw.reencrypted + sw.conflicts
		if err != nil {
			return sum, err
		}
		// A sweep meets every row still failing, so its failures are the
		// final word; the earlier pass's would count them twice.
		last = mergeUnknown(last, sw)
	}

	for kid, n := range last.unknown {
		unknown.addSecrets(kid, n)
	}
	sum.UnknownKIDs = unknown.list()
	failures := append(keyFailures, last.failures...)
	sum.Failed = int64(len(rw.Failed)) + int64(last.failed)
	sum.Failures = failures
	if len(sum.UnknownKIDs) == 0 && sum.Failed == 0 {
		// Every row in scope is under its project's primary key: the keys
		// rotated out hold nothing any more and are destroyed.
		if sum.ProjectKeysDeleted, err = withRetry(ctx, opts, outage, func() ([]string, error) { return st.PruneProjectKeys(ctx, opts.Project) }); err != nil {
			return sum, err
		}
	}
	sum.ElapsedSeconds = time.Since(start).Seconds()
	if len(sum.UnknownKIDs) > 0 || sum.Failed > 0 {
		ie := &IncompleteError{Unknown: sum.UnknownKIDs, Failed: sum.Failed}
		if len(failures) > 0 {
			ie.First = &failures[0]
		}
		return sum, ie
	}
	return sum, nil
}

// planned is the Summary of what plan says is to do, before anything is
// done, the unknown kids it names, and how many rows are pending.
func planned(plan store.ReencryptPlan, opts Options) (Summary, unknownSet, int64) {
	_, pending, _ := plan.Totals()
	sum := Summary{
		DryRun: opts.DryRun, Project: opts.Project,
		RootKID: plan.RootKID,
		Workers: opts.Workers, BatchSize: opts.BatchSize,
		AlreadyCurrent:      plan.Current,
		ProjectKeysCurrent:  plan.CurrentKeys,
		DataKeysRewrapped:   []string{},
		ProjectKeysToRewrap: plan.ProjectKeysToRewrap(),
	}
	unknown := newUnknownSet()
	for _, k := range plan.KIDs {
		if k.Kind == "unknown" {
			unknown.addSecrets(k.KID, k.Pending)
		}
	}
	for _, r := range plan.Rewrap {
		sum.DataKeysToRewrap += r.DataKeys
		if !r.Known {
			unknown.addDataKeys(r.WrappingKID, r.DataKeys)
		}
	}
	return sum, unknown, pending
}

// countPending adds up what is left to re-encrypt in each scope.
func countPending(ctx context.Context, st *store.Store, scopes, skip []string) (store.PendingReencrypt, error) {
	var all store.PendingReencrypt
	for _, project := range scopes {
		left, err := st.CountPendingReencrypt(ctx, project, skip)
		if err != nil {
			return all, err
		}
		all.Rows += left.Rows
		for _, kid := range left.KIDs {
			if !slices.Contains(all.KIDs, kid) {
				all.KIDs = append(all.KIDs, kid)
			}
		}
	}
	return all, nil
}

// underRotatedKeys counts the secrets and versions under the primary keys
// of the rotated projects that the plan counts as current (bound).
func underRotatedKeys(ctx context.Context, st *store.Store, plan store.ReencryptPlan, project string, rotated []string) (int64, error) {
	if len(rotated) == 0 {
		return 0, nil
	}
	keys, err := st.ListProjectKeys(ctx, project)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, k := range keys {
		if k.State != store.ProjectKeyPrimary || !slices.Contains(rotated, k.Project) {
			continue
		}
		n += k.Secrets + k.Versions
		for _, c := range plan.KIDs {
			if c.KID == k.KID {
				n -= c.Pending // unbound: pending already
			}
		}
	}
	return n, nil
}

// unknownRows counts the rows of the plan under a kid no key has: a pass
// still meets them, to report them.
func unknownRows(plan store.ReencryptPlan) int64 {
	_, _, unknown := plan.Totals()
	return unknown
}

// rotate gives new keys to the projects opts asks for, before the plan is
// made, and returns their names; a dry run only lists them.
func rotate(ctx context.Context, st *store.Store, opts Options) ([]string, error) {
	switch {
	case opts.RotateProjectKey && opts.DryRun:
		return []string{opts.Project}, nil
	case opts.RotateProjectKey:
		if _, _, err := st.RotateProjectKey(ctx, opts.Project); err != nil {
			return nil, err
		}
		return []string{opts.Project}, nil
	case opts.RotateOlderThan != 0:
		return st.RotateProjectKeysOlderThan(ctx, opts.Project, opts.RotateOlderThan, opts.DryRun)
	}
	return nil, nil
}

// DefaultWorkers is one batch more than the CPUs: a batch alternates
// between crypto here and waiting on PostgreSQL, and the extra batch keeps
// the CPUs busy while another waits.
func DefaultWorkers() int { return runtime.NumCPU() + 1 }

func normalize(st *store.Store, opts Options) (Options, error) {
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if err := store.CheckReencryptBatch("batch size", opts.BatchSize); err != nil {
		return opts, err
	}
	if opts.Workers < 0 {
		return opts, fmt.Errorf("workers %d is out of range: use 1 or more (0 for one more than the CPUs)", opts.Workers)
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers()
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = DefaultRetryFor
	}
	// A batch holds one connection for its transaction, and reloads data
	// keys through it: more workers than connections would only queue.
	if limit := st.MaxConns(); opts.Workers > limit {
		opts.Workers = max(limit, 1)
	}
	if opts.Project != "" {
		if err := store.ValidateProject(opts.Project); err != nil {
			return opts, err
		}
	}
	// Checked before anything changes: a run moves a store to project keys
	// before it rotates.
	switch {
	case opts.RotateProjectKey && opts.Project == "":
		return opts, errors.New("rotating a project key needs the project")
	case opts.RotateProjectKey && opts.RotateOlderThan != 0:
		return opts, errors.New("rotate one project's key or the keys older than an age, not both")
	case opts.RotateOlderThan < 0:
		return opts, fmt.Errorf("rotate keys older than %s: the age must be positive", opts.RotateOlderThan)
	}
	return opts, nil
}

// passResult adds up the batches of one pass.
type passResult struct {
	reencrypted int64
	conflicts   int64
	failed      int
	failures    []store.ItemFailure
	unknown     map[string]int64
}

func (p *passResult) add(b store.ReencryptBatchResult) {
	p.reencrypted += int64(b.Reencrypted)
	p.conflicts += int64(b.Conflicts)
	p.failed += len(b.Failed)
	for _, f := range b.Failed {
		if len(p.failures) < maxFailuresKept {
			p.failures = append(p.failures, f)
		}
	}
	for kid, n := range b.Unknown {
		if p.unknown == nil {
			p.unknown = map[string]int64{}
		}
		p.unknown[kid] += n
	}
}

func (p passResult) unknownKIDs() []string {
	out := make([]string, 0, len(p.unknown))
	for kid := range p.unknown {
		out = append(out, kid)
	}
	sort.Strings(out)
	return out
}

// mergePasses adds up two passes over different rows (the secrets and
// their history).
func mergePasses(a, b passResult) passResult {
	a.reencrypted += b.reencrypted
	a.conflicts += b.conflicts
	a.failed += b.failed
	for _, f := range b.failures {
		if len(a.failures) < maxFailuresKept {
			a.failures = append(a.failures, f)
		}
	}
	for kid, n := range b.unknown {
		if a.unknown == nil {
			a.unknown = map[string]int64{}
		}
		a.unknown[kid] += n
	}
	return a
}

// mergeUnknown keeps a sweep's failures and adds the kids an earlier pass
// found unknown, which the sweep skipped.
func mergeUnknown(earlier, sweep passResult) passResult {
	for kid, n := range earlier.unknown {
		if sweep.unknown == nil {
			sweep.unknown = map[string]int64{}
		}
		sweep.unknown[kid] += n
	}
	return sweep
}

// rowsPass re-encrypts the secrets in scope under the pending kids (or
// unbound), then their kept earlier values (history), skipping rows under
// the kids in skip; wait makes a batch wait for rows another transaction
// holds rather than skip them. When projects is not nil the work is known
// to lie in those projects only (a project key rotation), and each is
// walked on its own instead of the whole store.
func rowsPass(ctx context.Context, st *store.Store, projects, pending, skip []string, wait bool, opts Options, prog *progress, outage *outage) (passResult, error) {
	scopes := []string{opts.Project}
	if opts.Project == "" && projects != nil {
		scopes = projects
	}
	var res passResult
	for _, project := range scopes {
		secrets, err := runPass(ctx, st, store.NewReencryptScan(project, pending, skip, wait, opts.BindUnbound), opts, prog, outage)
		res = mergePasses(res, secrets)
		if err != nil {
			return res, err
		}
		history, err := runPass(ctx, st, store.NewVersionsReencryptScan(project, pending, skip, wait, opts.BindUnbound), opts, prog, outage)
		res = mergePasses(res, history)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// runPass runs batches on opts.Workers goroutines until the scan is over;
// the first error stops them all.
func runPass(ctx context.Context, st *store.Store, scan *store.ReencryptScan, opts Options, prog *progress, outage *outage) (passResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		res passResult
		wg  sync.WaitGroup
	)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b, err := batchWithRetry(ctx, st, scan, opts, outage)
				if err != nil {
					cancel(err)
					return
				}
				if b.Claimed == 0 {
					return
				}
				mu.Lock()
				res.add(b)
				mu.Unlock()
				prog.add(int64(b.Claimed), int64(b.Reencrypted))
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return res, err
		}
		return res, fmt.Errorf("%w; the batches committed before stay done: run reencrypt again to finish", err)
	}
	return res, nil
}

// batchWithRetry runs another batch when Postgres aborted one for a
// deadlock or a serialization failure, and, while the database is
// unreachable, keeps trying with backoff for opts.RetryFor. Nothing of a
// failed batch was written; the scan has moved past its rows, so the final
// sweep, which counts what is left, picks them up.
func batchWithRetry(ctx context.Context, st *store.Store, scan *store.ReencryptScan, opts Options, outage *outage) (store.ReencryptBatchResult, error) {
	for attempt := 1; ; attempt++ {
		b, err := st.ReencryptBatch(ctx, scan, opts.BatchSize)
		if err != nil && attempt < batchAttempts && store.IsTransientConflict(err) {
			continue
		}
		if err != nil && store.IsConnectionLoss(err) {
			if werr := outage.wait(ctx, err, opts); werr != nil {
				return b, werr
			}
			continue
		}
		if err == nil {
			outage.over()
		}
		return b, err
	}
}

// withRetry runs fn, retrying while the database is unreachable, as a
// batch does: for the counts and rewraps around the batches.
func withRetry[T any](ctx context.Context, opts Options, outage *outage, fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != nil && store.IsConnectionLoss(err) {
			if werr := outage.wait(ctx, err, opts); werr != nil {
				return v, werr
			}
			continue
		}
		if err == nil {
			outage.over()
		}
		return v, err
	}
}

// outage tracks one stretch of failures shared by all workers: retries stop
// RetryFor after the first failure in a row, and any success ends it.
type outage struct {
	mu    sync.Mutex
	since time.Time
	next  time.Duration
}

// RetryExhaustedError is returned when the database stayed unreachable
// for longer than the run was told to wait.
type RetryExhaustedError struct {
	For time.Duration
	Err error
}

func (e *RetryExhaustedError) Error() string {
	return fmt.Sprintf("the database was unreachable for %s (--retry-for): %v", e.For.Round(time.Second), e.Err)
}

func (e *RetryExhaustedError) Unwrap() error { return e.Err }

func (o *outage) wait(ctx context.Context, err error, opts Options) error {
	o.mu.Lock()
	now := time.Now()
	if o.since.IsZero() {
		o.since, o.next = now, retryFirstWait
	}
	elapsed, wait := now.Sub(o.since), o.next
	o.next = min(o.next*2, retryMaxWait)
	o.mu.Unlock()
	if opts.RetryFor < 0 {
		return err // retries are off: the error as it is
	}
	if elapsed >= opts.RetryFor {
		return &RetryExhaustedError{For: elapsed, Err: err}
	}
	wait = min(wait, opts.RetryFor-elapsed)
	if opts.OnRetry != nil {
		opts.OnRetry(err, wait)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}

func (o *outage) over() {
	o.mu.Lock()
	o.since = time.Time{}
	o.mu.Unlock()
}

// progress serializes reports to the caller's callback.
type progress struct {
	fn          func(Progress)
	mu          sync.Mutex
	done, total int64
	reencrypted int64
}

func (p *progress) add(done, reencrypted int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += done
	p.reencrypted += reencrypted
	if p.done > p.total {
		p.total = p.done
	}
	if p.fn != nil {
		p.fn(Progress{Done: p.done, Total: p.total, Reencrypted: p.reencrypted})
	}
}

func (p *progress) grow(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = p.done + n
	if p.fn != nil {
		p.fn(Progress{Done: p.done, Total: p.total, Reencrypted: p.reencrypted})
	}
}

// unknownSet gathers unknown kids from secrets and data keys.
type unknownSet map[string]*KIDCount

func newUnknownSet() unknownSet { return unknownSet{} }

func (u unknownSet) get(kid string) *KIDCount {
	if u[kid] == nil {
		u[kid] = &KIDCount{KID: kid}
	}
	return u[kid]
}

func (u unknownSet) addSecrets(kid string, n int64) {
	if n > 0 {
		u.get(kid).Secrets += n
	}
}

func (u unknownSet) addDataKeys(kid string, n int64) {
	if n > 0 {
		u.get(kid).DataKeys += n
	}
}

func (u unknownSet) setDataKeys(kid string, n int64) {
	if n > 0 {
		u.get(kid).DataKeys = n
	}
}

func (u unknownSet) list() []KIDCount {
	out := make([]KIDCount, 0, len(u))
	for _, c := range u {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KID < out[j].KID })
	return out
}
