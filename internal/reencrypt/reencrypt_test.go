package reencrypt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// rotation is a store upgraded from before project keys, mid-rotation:
// secrets under an old root key, under an old data key and unbound, then a
// new first root key and a new primary data key. A reencrypt moves it to
// project keys.
type rotation struct {
	db        *storetest.DB
	oldRoot   *keyring.Key
	newRoot   *keyring.Key
	oldData   string
	newData   string
	st        *store.Store // opened with the new root keys
	values    map[string]string
	revisions map[string]int64
}

func newRotation(t *testing.T) *rotation {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewLegacyDB(t)
	oldRoot, other := storetest.Key(t, "old-root", "dir"), storetest.Key(t, "other-root", "A256GCMKW")
	before := db.Open(t, storetest.Ring(t, oldRoot, other), "")
	putSecrets(t, before, "app", 60)
	if _, err := before.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "old-data", Alg: "A256GCMKW", Enc: "A256GCM", State: store.StatePrimary}); err != nil {
		t.Fatal(err)
	}
	putSecrets(t, before, "billing", 25)
	// Ciphertexts another tool wrote: no row binding.
	for i := range 5 {
		name := fmt.Sprintf("U%d", i)
		token, kid, err := before.Keyring().Encrypt([]byte(valueOf("legacy", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Pool.Exec(ctx, `insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by)
			values ('legacy', $1, $2, $3, false, 'other-tool', 'other-tool')`, name, token, kid)
		if err != nil {
			t.Fatal(err)
		}
	}
	// A data key rotation first, still under the old root key...
	if _, err := before.CreateDataKey(ctx, store.CreateDataKeyInput{KID: "new-data", Alg: "dir", Enc: "A256GCM", State: store.StatePrimary}); err != nil {
		t.Fatal(err)
	}
	before.Close()

	// ...then a root key rotation: the new key first.
	newRoot := storetest.Key(t, "new-root", "A256GCMKW")
	st := db.Open(t, storetest.Ring(t, newRoot, oldRoot, other), "")
	r := &rotation{db: db, oldRoot: oldRoot, newRoot: newRoot, oldData: "old-data", newData: "new-data", st: st,
		values: storetest.Values(t, st), revisions: map[string]int64{}}
	for id, row := range readRows(t, db) {
		r.revisions[id] = row.revision
	}
	return r
}

func (r *rotation) total() int { return len(r.values) }

func TestReencryptMovesALegacyStoreToProjectKeysAndRewrapsDataKeys(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	if got := kidCounts(t, r.db); got["old-root"] != 60 || got["old-data"] != 25 || got["old-data (unbound)"] != 5 {
		t.Fatalf("fixture kids = %v", got)
	}

	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, BatchSize: 7, Workers: 3})
	if err != nil {
		t.Fatalf("reencrypt: %v", err)
	}
	if sum.Reencrypted != int64(r.total()) || sum.AlreadyCurrent != nil || sum.Failed != 0 || len(sum.UnknownKIDs) != 0 {
		t.Fatalf("summary = %+v, want %d re-encrypted", sum, r.total())
	}
	if fmt.Sprint(sum.DataKeysRewrapped) != "[new-data old-data]" {
		t.Fatalf("data keys rewrapped = %v, want [new-data old-data]", sum.DataKeysRewrapped)
	}
	if primaries := checkUnderProjectKeys(t, r.db, r.st); len(primaries) != 3 {
		t.Fatalf("project keys = %v, want one for each of app, billing, legacy", primaries)
	}
	// Values and revisions unchanged: a reencrypt is not a write of the value.
	for id, row := range readRows(t, r.db) {
		if row.revision != r.revisions[id] {
			t.Errorf("%s: revision %d, want unchanged %d", id, row.revision, r.revisions[id])
		}
	}

	// The old root keys can now be retired: a keyring of the new root key
	// alone opens the store (keys rewrapped) and every secret.
	retired := r.db.Open(t, storetest.Ring(t, r.newRoot), "")
	if got := storetest.Values(t, retired); fmt.Sprint(got) != fmt.Sprint(r.values) {
		t.Fatalf("values after reencrypt differ from before")
	}
	var wrapping []string
	rows, _ := r.db.Pool.Query(ctx, "select wrapping_kid from encryption_keys order by kid")
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		wrapping = append(wrapping, k)
	}
	if fmt.Sprint(wrapping) != "[new-root new-root]" {
		t.Fatalf("wrapping kids = %v, want every data key under new-root", wrapping)
	}
	keys, err := r.st.ListProjectKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.WrappingKID != "new-root" {
			t.Errorf("project key %s of %s is wrapped by %s, want new-root", k.KID, k.Project, k.WrappingKID)
		}
	}

	// A second run finds nothing to do.
	again, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Reencrypted != 0 || again.ProjectKeysCurrent != 3 || again.ProjectKeysRewrapped != 0 || len(again.DataKeysRewrapped) != 0 {
		t.Fatalf("second run = %+v, want nothing to do", again)
	}
}

func TestReencryptAuditsBatchesWithNamesNeverValues(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	if _, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, BatchSize: 40, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	primaries := checkUnderProjectKeys(t, r.db, r.st)
	if _, err := r.st.VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	events := r.db.Events(t)
	named := 0
	batches := 0
	for _, e := range events {
		for _, part := range []string{e.Details, e.Subject, e.Project, e.Actor} {
			if strings.Contains(part, canary) {
				t.Fatalf("audit event %d (%s) holds a secret value: %s", e.Seq, e.Action, part)
			}
		}
		switch e.Action {
		case audit.ActionSecretReencrypt:
			batches++
			var d struct {
				Count   int `json:"count"`
				Secrets []struct {
					Project string   `json:"project"`
					FromKID string   `json:"from_kid"`
					KID     string   `json:"kid"`
					Names   []string `json:"names"`
				} `json:"secrets"`
			}
			if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
				t.Fatalf("event %d details: %v", e.Seq, err)
			}
			n := 0
			for _, g := range d.Secrets {
				n += len(g.Names)
				if g.KID != primaries[g.Project] {
					t.Errorf("event %d says %s moved to %q, want its project key %q", e.Seq, g.Project, g.KID, primaries[g.Project])
				}
				if g.FromKID == "" || g.Project == "" {
					t.Errorf("event %d group without project or former kid: %+v", e.Seq, g)
				}
			}
			if n != d.Count {
				t.Errorf("event %d lists %d names, count says %d", e.Seq, n, d.Count)
			}
			named += n
		case audit.ActionKeyRewrap:
			if !strings.Contains(e.Details, `"old-data"`) {
				t.Errorf("rewrap event does not name the data key: %s", e.Details)
			}
		}
	}
	if named != r.total() {
		t.Fatalf("audit events name %d re-encrypted secrets, want %d", named, r.total())
	}
	// One event per batch, not per secret: 90 secrets in batches of 40.
	if batches != 3 {
		t.Fatalf("%d reencrypt events, want 3 (one per batch)", batches)
	}
}

func TestReencryptDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	before := readRows(t, r.db)
	eventsBefore := len(r.db.Events(t))

	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(readRows(t, r.db)) != fmt.Sprint(before) {
		t.Fatal("dry run changed secrets")
	}
	if n := len(r.db.Events(t)); n != eventsBefore {
		t.Fatalf("dry run appended %d audit events", n-eventsBefore)
	}
	if !sum.DryRun || sum.Reencrypted != int64(r.total()) || sum.DataKeysToRewrap != 2 || len(sum.DataKeysRewrapped) != 0 {
		t.Fatalf("dry run summary = %+v", sum)
	}
	got := map[string]int64{}
	for _, k := range sum.Plan.KIDs {
		got[k.KID] = k.Pending
	}
	if got["old-root"] != 60 || got["old-data"] != 30 {
		t.Fatalf("dry run per kid = %v, want old-root 60, old-data 30 (5 unbound)", got)
	}
}

func TestReencryptOneProjectLeavesOthers(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, Project: "billing", BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reencrypted != 25 {
		t.Fatalf("re-encrypted %d, want billing's 25", sum.Reencrypted)
	}
	billing, err := r.st.GetProjectKey(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	for id, row := range readRows(t, r.db) {
		if strings.HasPrefix(id, "billing/") != (row.kid == billing.KID) {
			t.Errorf("%s is under %s", id, row.kid)
		}
	}
	if got := storetest.Values(t, r.st); fmt.Sprint(got) != fmt.Sprint(r.values) {
		t.Fatal("values changed")
	}
}

func TestReencryptReportsUnknownKIDsAfterDoingTheRest(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	// Rows under keys this deployment no longer has.
	for i, kid := range []string{"lost-1", "lost-1", "lost-1", "lost-2"} {
		ring := storetest.Ring(t, storetest.Key(t, kid, "dir"))
		token, _, err := ring.Encrypt([]byte(canary), keyring.SecretBinding("orphans", fmt.Sprint("N", i), 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.db.Pool.Exec(ctx, `insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by)
			values ('orphans', $1, $2, $3, true, 't', 't')`, fmt.Sprint("N", i), token, kid); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, BatchSize: 9})
	var inc *reencrypt.IncompleteError
	if !errors.As(err, &inc) {
		t.Fatalf("err = %v, want an IncompleteError", err)
	}
	if sum.Reencrypted != int64(r.total()) {
		t.Fatalf("re-encrypted %d, want every other secret (%d)", sum.Reencrypted, r.total())
	}
	if got := fmt.Sprint(sum.UnknownKIDs); got != "[{lost-1 3 0} {lost-2 1 0}]" {
		t.Fatalf("unknown kids = %s", got)
	}
	msg := err.Error()
	for _, want := range []string{`"lost-1" (3 secret(s))`, `"lost-2" (1 secret(s))`, "add the root key back"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestReencryptFailsMovedCiphertextButDoesTheRest(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	// Copy one secret's ciphertext over another's: the binding refuses it.
	if _, err := r.db.Pool.Exec(ctx, `update secrets set ciphertext = (select ciphertext from secrets where project = 'app' and name = 'S0001')
		where project = 'app' and name = 'S0002'`); err != nil {
		t.Fatal(err)
	}
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, BatchSize: 8, Workers: 2})
	var inc *reencrypt.IncompleteError
	if !errors.As(err, &inc) {
		t.Fatalf("err = %v, want an IncompleteError", err)
	}
	if sum.Failed != 1 || sum.Reencrypted != int64(r.total()-1) {
		t.Fatalf("summary = %+v, want 1 failed and the rest re-encrypted", sum)
	}
	if !strings.Contains(err.Error(), "app/S0002") || !strings.Contains(err.Error(), "copied or moved") {
		t.Fatalf("error %q should name the secret and the reason", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatal("error holds a secret value")
	}
}

func TestReencryptKeepsConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	// A writer with its own pool, as Terraform would be, rewrites secrets
	// throughout the run, which moves the store to project keys.
	w := startWriter(t, r.db.Open(t, storetest.Ring(t, r.newRoot, r.oldRoot), ""), map[string]int{"app": 60})
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, BatchSize: 3, Workers: 2, Progress: w.interleave})
	last := w.stop(t)
	if err != nil {
		t.Fatalf("reencrypt: %v", err)
	}
	checkValuesKept(t, r.st, r.values, last)
	checkUnderProjectKeys(t, r.db, r.st)
	t.Logf("summary: %+v; writer wrote %d secrets meanwhile", sum, len(last))
}

// A project key rotation while writers write to that project and to
// others: every row ends under its project's primary key, no write is lost,
// other projects keep their keys, and the retired key is destroyed.
func TestProjectKeyRotationKeepsConcurrentWritesInEveryProject(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	root := storetest.Key(t, "root", "A256GCMKW")
	st := db.Open(t, storetest.Ring(t, root), "")
	counts := map[string]int{"app": 60, "billing": 30, "web": 20}
	for p, n := range counts {
		putSecrets(t, st, p, n)
	}
	// Earlier values too, which the rotation moves like the current ones.
	for _, name := range []string{"S0000", "S0003", "S0006"} {
		if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: name, Value: []byte(canary + "-second"), ExpectedRevision: store.AnyRevision}); err != nil {
			t.Fatal(err)
		}
	}
	values := storetest.Values(t, st)
	before := map[string]string{}
	for p := range counts {
		k, err := st.GetProjectKey(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = k.KID
	}

	w := startWriter(t, db.Open(t, storetest.Ring(t, root), ""), map[string]int{"app": 60, "billing": 30})
	sum, err := reencrypt.Run(ctx, st, reencrypt.Options{Project: "app", RotateProjectKey: true, BatchSize: 4, Workers: 2, Progress: w.interleave})
	last := w.stop(t)
	if err != nil {
		t.Fatalf("reencrypt --rotate-project-key: %v", err)
	}
	checkValuesKept(t, st, values, last)
	after := checkUnderProjectKeys(t, db, st)
	if after["app"] == before["app"] || after["billing"] != before["billing"] || after["web"] != before["web"] {
		t.Fatalf("project keys %v -> %v, want only app's new", before, after)
	}
	if fmt.Sprint(sum.ProjectKeysRotated) != "[app]" || fmt.Sprint(sum.ProjectKeysDeleted) != "["+before["app"]+"]" {
		t.Fatalf("summary = %+v, want app rotated and its old key %s destroyed", sum, before["app"])
	}
	keys, err := st.ListProjectKeys(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KID != after["app"] {
		t.Fatalf("app's keys after the rotation = %+v, want its new primary alone", keys)
	}
	t.Logf("summary: %+v; writers wrote %d secrets meanwhile", sum, len(last))
}

// writer rewrites secrets from another pool while a test runs a reencrypt.
type writer struct {
	mu    sync.Mutex
	last  map[string]string
	quit  chan struct{}
	done  chan error
	wrote chan struct{}
}

// startWriter rewrites every third of the first n secrets of each project
// in counts, round after round, until stopped; the last value each write
// set must survive.
func startWriter(t testing.TB, st *store.Store, counts map[string]int) *writer {
	t.Helper()
	ctx := context.Background()
	w := &writer{last: map[string]string{}, quit: make(chan struct{}), done: make(chan error, 1), wrote: make(chan struct{}, 1)}
	var projects []string
	for p := range counts {
		projects = append(projects, p)
	}
	go func() {
		defer close(w.done)
		for round := 0; ; round++ {
			for _, p := range projects {
				for i := 0; i < counts[p]; i += 3 {
					select {
					case <-w.quit:
						return
					default:
					}
					name := fmt.Sprintf("S%04d", i)
					value := fmt.Sprintf("%s-%s-round-%d", canary, p, round)
					if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: p, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision}); err != nil {
						w.done <- err
						return
					}
					w.mu.Lock()
					w.last[p+"/"+name] = value
					w.mu.Unlock()
					select {
					case w.wrote <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return w
}

// interleave, as a Progress callback, makes each batch wait for a write to
// land, so writes and batches interleave however fast either side is.
func (w *writer) interleave(reencrypt.Progress) {
	select {
	case <-w.wrote:
	case <-w.done:
	}
}

// stop stops the writer and returns the last value it wrote per secret.
func (w *writer) stop(t testing.TB) map[string]string {
	t.Helper()
	close(w.quit)
	if err := <-w.done; err != nil {
		t.Fatalf("concurrent writer: %v", err)
	}
	if len(w.last) == 0 {
		t.Fatal("the writer wrote nothing meanwhile; the test proves nothing")
	}
	return w.last
}

// checkValuesKept fails unless every secret reads back as before, or as
// the writer last set it.
func checkValuesKept(t testing.TB, st *store.Store, before, written map[string]string) {
	t.Helper()
	want := map[string]string{}
	for id, v := range before {
		want[id] = v
	}
	for id, v := range written {
		want[id] = v
	}
	got := storetest.Values(t, st)
	if fmt.Sprint(got) == fmt.Sprint(want) {
		return
	}
	for id := range want {
		if got[id] != want[id] {
			t.Errorf("%s: value lost (got the %q one)", id, strings.TrimPrefix(got[id], canary))
		}
	}
	t.FailNow()
}

func TestTwoReencryptRunsShareTheWork(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	// A second "process": its own pool and keyring, same root keys.
	other := r.db.Open(t, storetest.Ring(t, r.newRoot, r.oldRoot), "")
	var wg sync.WaitGroup
	sums := make([]reencrypt.Summary, 2)
	errs := make([]error, 2)
	for i, st := range []*store.Store{r.st, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = reencrypt.Run(ctx, st, reencrypt.Options{BindUnbound: true, BatchSize: 4, Workers: 2})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	// Row locks hand each secret to exactly one run.
	if total := sums[0].Reencrypted + sums[1].Reencrypted; total != int64(r.total()) {
		t.Fatalf("runs re-encrypted %d + %d = %d, want exactly %d", sums[0].Reencrypted, sums[1].Reencrypted, total, r.total())
	}
	checkUnderProjectKeys(t, r.db, r.st)
	if got := storetest.Values(t, r.st); fmt.Sprint(got) != fmt.Sprint(r.values) {
		t.Fatal("values changed")
	}
	t.Logf("run 1 re-encrypted %d, run 2 %d", sums[0].Reencrypted, sums[1].Reencrypted)
}

// A ciphertext that carries no binding opens in any row: a database
// writer could have planted it. Binding it vouches that it belongs there,
// so reencrypt does that only when asked.
func TestReencryptLeavesUnboundCiphertextsUnlessAsked(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BatchSize: 16})
	var incomplete *reencrypt.IncompleteError
	if !errors.As(err, &incomplete) || sum.Failed != 5 {
		t.Fatalf("run without --bind-unbound: %+v, %v; want the 5 unbound rows reported", sum, err)
	}
	if !strings.Contains(err.Error(), "--bind-unbound") || !strings.Contains(sum.Failures[0].Reason, "carries no binding") {
		t.Errorf("error %q / reason %q do not say what to do", err, sum.Failures[0].Reason)
	}
	if got := kidCounts(t, r.db); got["old-data (unbound)"] != 5 || got["old-root"]+got["old-data"]+got["new-data"] != 0 {
		t.Fatalf("kids = %v, want the 5 unbound left alone and the rest moved", got)
	}
	if _, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true}); err != nil {
		t.Fatalf("run with --bind-unbound: %v", err)
	}
	checkUnderProjectKeys(t, r.db, r.st)
}

// Once reencrypt has moved away from a root key, a process still running
// with it first cannot append to the audit chain with that key's audit key.
func TestReencryptRetiresTheOldRootKeysAuditKey(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	old := r.db.Open(t, storetest.Ring(t, r.oldRoot), "")
	if _, err := old.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "OLD_PROCESS", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.AuditKeys.Retired) == 0 {
		t.Fatalf("audit keys = %+v, want the old root key's retired", sum.AuditKeys)
	}
	// Its writes of values stop at app's key, wrapped under the new root key
	// only; a change that encrypts nothing stops at the audit chain.
	_, err = old.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "OLD_PROCESS", Value: []byte("v2"), ExpectedRevision: store.AnyRevision})
	if err == nil || !strings.Contains(err.Error(), `"new-root", which is not in the keyring`) {
		t.Fatalf("write of a value from the old process after the rotation: %v, want the new root key missing", err)
	}
	err = old.DeleteSecret(ctx, "app", "OLD_PROCESS", store.AnyRevision)
	var retired *store.AuditKeyRetiredError
	if !errors.As(err, &retired) || !strings.Contains(err.Error(), "deploy the current root keys") {
		t.Fatalf("delete from the old process after the rotation: %v, want AuditKeyRetiredError", err)
	}
	// The chain still verifies with the new root key alone.
	if _, err := r.db.Open(t, storetest.Ring(t, r.newRoot), "").VerifyAuditChain(ctx, ""); err != nil {
		t.Fatalf("verify with the new root key alone: %v", err)
	}
}

// A project key counts as current only when nothing of its project is left
// to move: a project that got its key from a new write while its older
// secrets wait under the old root key is not.
func TestReencryptCountsAProjectKeyCurrentOnlyWhenItsProjectIsDone(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	if _, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, Project: "billing"}); err != nil {
		t.Fatal(err)
	}
	// app gets its key from a write; its 60 other secrets are still to move.
	if _, err := r.st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "NEW", Value: []byte("v"), ExpectedRevision: store.MustNotExist}); err != nil {
		t.Fatal(err)
	}
	sum, err := reencrypt.Run(ctx, r.st, reencrypt.Options{BindUnbound: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ProjectKeysCurrent != 1 || sum.Reencrypted != 65 {
		t.Fatalf("dry run = %d project keys current, %d to re-encrypt; want 1 (billing's) and 65 (app's 60, legacy's 5)", sum.ProjectKeysCurrent, sum.Reencrypted)
	}
}

// A dry run of a rotation counts the secrets the rotation would move,
// which until then are under the key it would retire.
func TestReencryptDryRunOfARotationCountsTheProjectsSecrets(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	st := db.Open(t, storetest.Ring(t, storetest.Key(t, "root", "dir")), "")
	putSecrets(t, st, "app", 12)
	putSecrets(t, st, "web", 5)
	if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: "app", Name: "S0000", Value: []byte("second"), ExpectedRevision: store.AnyRevision}); err != nil {
		t.Fatal(err)
	}
	sum, err := reencrypt.Run(ctx, st, reencrypt.Options{Project: "app", RotateProjectKey: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reencrypted != 13 || sum.AlreadyCurrent == nil || *sum.AlreadyCurrent != 0 || sum.ProjectKeysCurrent != 0 || fmt.Sprint(sum.ProjectKeysRotated) != "[app]" {
		t.Fatalf("dry run = %+v, want app rotated, its 12 secrets and 1 earlier value to re-encrypt, none current", sum)
	}
	real, err := reencrypt.Run(ctx, st, reencrypt.Options{Project: "app", RotateProjectKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if real.Reencrypted != sum.Reencrypted {
		t.Fatalf("the run re-encrypted %d, the dry run said %d", real.Reencrypted, sum.Reencrypted)
	}
}

// After a project key rotation, the run's final sweep stays in the
// rotated project: it neither reads the rest of the store nor waits for
// rows another project's transaction holds, even when that project got work
// of its own meanwhile.
func TestProjectKeyRotationSweepsOnlyTheRotatedProject(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	root := storetest.Key(t, "root", "dir")
	st := db.Open(t, storetest.Ring(t, root), "")
	putSecrets(t, st, "app", 20)
	putSecrets(t, st, "billing", 10)
	if _, _, err := st.RotateProjectKey(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	// A writer holds one of app's rows: the first pass skips it, so the
	// sweep must come back for it.
	held, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx) //nolint:errcheck
	if _, err := held.Exec(ctx, "select 1 from secrets where project = 'app' and name = 'S0007' for update"); err != nil {
		t.Fatal(err)
	}
	other, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx) //nolint:errcheck
	var once sync.Once
	afterFirstBatch := func(reencrypt.Progress) {
		once.Do(func() {
			// Meanwhile someone rotates billing's key and holds one of its
			// rows, now under a retired key, for as long as this run lasts.
			if _, _, err := db.Open(t, storetest.Ring(t, root), "").RotateProjectKey(ctx, "billing"); err != nil {
				t.Error(err)
			}
			if _, err := other.Exec(ctx, "select 1 from secrets where project = 'billing' and name = 'S0003' for update"); err != nil {
				t.Error(err)
			}
			if err := held.Commit(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	runCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sum, err := reencrypt.Run(runCtx, st, reencrypt.Options{BatchSize: 100, Workers: 1, Progress: afterFirstBatch})
	if err != nil {
		t.Fatalf("reencrypt after app's rotation: %v (summary %+v)", err, sum)
	}
	if sum.Reencrypted != 20 {
		t.Fatalf("re-encrypted %d, want app's 20 and nothing of billing's", sum.Reencrypted)
	}
	app, err := st.GetProjectKey(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range readRows(t, db) {
		if strings.HasPrefix(id, "app/") && r.kid != app.KID {
			t.Errorf("%s is under %s, want app's primary key %s", id, r.kid, app.KID)
		}
	}
}

// A rotation asked for wrongly is refused before the run changes
// anything, the move of a store to project keys included.
func TestReencryptRefusesABadRotationBeforeMovingTheStore(t *testing.T) {
	ctx := context.Background()
	r := newRotation(t)
	for _, opts := range []reencrypt.Options{
		{RotateProjectKey: true},
		{RotateProjectKey: true, Project: "app", RotateOlderThan: time.Hour},
		{RotateOlderThan: -time.Hour},
	} {
		if _, err := reencrypt.Run(ctx, r.st, opts); err == nil {
			t.Fatalf("reencrypt with %+v ran", opts)
		}
	}
	if _, on, err := r.st.ProjectKeysSince(ctx); err != nil || on {
		t.Fatalf("the store moved to project keys (%v, %v) on a refused run", on, err)
	}
}

// A ciphertext copied into another project under the retired key of the
// project rotated is met and reported, and that key is kept: the run does
// not call the store done while a row is still under it.
func TestProjectKeyRotationReportsARowMovedInUnderTheRetiredKey(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewDB(t)
	st := db.Open(t, storetest.Ring(t, storetest.Key(t, "root", "dir")), "")
	putSecrets(t, st, "app", 10)
	putSecrets(t, st, "web", 3)
	_, retired, err := st.RotateProjectKey(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `insert into secrets (project, name, ciphertext, kid, bound, created_by, updated_by)
		select 'web', 'PLANTED', ciphertext, kid, true, 'x', 'x' from secrets where project = 'app' and name = 'S0001'`); err != nil {
		t.Fatal(err)
	}
	sum, err := reencrypt.Run(ctx, st, reencrypt.Options{BatchSize: 4})
	var inc *reencrypt.IncompleteError
	if !errors.As(err, &inc) || sum.Failed != 1 || sum.Failures[0].Project != "web" || sum.Failures[0].Name != "PLANTED" {
		t.Fatalf("reencrypt = %+v, %v; want web/PLANTED reported", sum, err)
	}
	if sum.Reencrypted != 10 || len(sum.ProjectKeysDeleted) != 0 {
		t.Fatalf("summary = %+v, want app's 10 moved and its retired key %s kept", sum, retired)
	}
	keys, err := st.ListProjectKeys(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1].KID != retired || keys[1].Secrets != 1 {
		t.Fatalf("app's keys = %+v, want the retired %s kept, under the planted row", keys, retired)
	}
}
