package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReplicationOptions configure NewReplicatedCluster.
type ReplicationOptions struct {
	// Synchronous makes the primary wait, at each commit, until the standby
	// has the commit (synchronous_standby_names): a commit the client saw
	// succeed survives the primary's loss. Without it, replication is
	// asynchronous and the last commits before a failover may be lost.
	Synchronous bool
	// SynchronousCommit is the nodes' synchronous_commit: "on" (the
	// default: the standby has flushed the commit) or "remote_apply" (the
	// standby has also applied it, so a read there sees it).
	SynchronousCommit string
}

// ReplicatedCluster is a primary and a hot standby that streams from it
// through a replication slot, as a production high-availability
// deployment (Patroni, CloudNativePG, RDS Multi-AZ) runs them: two
// throwaway servers on 127.0.0.1, each in a temporary directory of its
// own, stopped and removed when the test ends. It fails over only when
// the test says so: StopPrimary, Promote, RebuildStandby.
type ReplicatedCluster struct {
	opts    ReplicationOptions
	nodes   [2]*Cluster
	primary int  // index in nodes
	stopped bool // the node that is not the primary is down (StopPrimary), not streaming
}

// nodeName is a node's cluster_name, which is also its application_name
// in the primary's pg_stat_replication and the name of its slot there.
func nodeName(i int) string { return "node" + strconv.Itoa(i) }

// NewReplicatedCluster starts a primary, makes a standby of it with
// pg_basebackup -R (streaming replication through a slot) and waits until
// the standby streams (and, when Synchronous, is the synchronous standby).
// Like NewCluster, it ignores PGSECRETS_TEST_DATABASE_URL.
func NewReplicatedCluster(t testing.TB, opts ReplicationOptions) *ReplicatedCluster {
	t.Helper()
	if opts.SynchronousCommit == "" {
		opts.SynchronousCommit = "on"
	}
	r := &ReplicatedCluster{opts: opts}
	t.Cleanup(func() {
		for _, c := range r.nodes {
			if c == nil {
				continue
			}
			if err := c.Stop(); err != nil {
				t.Errorf("pgtest: stop %s: %v", c.settings["cluster_name"], err)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	primary, err := Start(ctx, Options{settings: r.settings(0)})
	if err != nil {
		t.Fatalf("pgtest: start the primary: %v", err)
	}
	r.nodes[0] = primary
	standby, err := start(ctx, Options{settings: r.settings(1)}, func(c *Cluster, ctx context.Context) error {
		return c.baseBackup(ctx, primary, nodeName(1))
	})
	if err != nil {
		t.Fatalf("pgtest: make a standby of the primary at %s: %v", primary.URL(), err)
	}
	r.nodes[1] = standby
	if err := r.attachStandby(ctx); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return r
}

// settings are node i's server settings: commits are durable on the node
// (synchronous_commit, never off) whatever the replication mode. fsync
// stays off: a stopped server (StopPrimary) still has its files in the
// OS's cache; only a machine's crash would lose them.
func (r *ReplicatedCluster) settings(i int) map[string]string {
	return map[string]string{
		"cluster_name":       nodeName(i),
		"synchronous_commit": r.opts.SynchronousCommit,
		"hot_standby":        "on",
	}
}

// URL is the superuser's URL for the database "postgres" that names both
// nodes, in a fixed order, with target_session_attrs=read-write: it
// reaches whichever node is the primary, before and after a failover, as
// an application's connection string does.
func (r *ReplicatedCluster) URL() string {
	return multiHostURL(r.nodes[0].URL(), r.nodes[0].port, r.nodes[1].port)
}

func multiHostURL(base string, ports ...int) string {
	u, _ := url.Parse(base) // Cluster.URL always parses
	hosts := make([]string, len(ports))
	for i, p := range ports {
		hosts[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	u.Host = strings.Join(hosts, ",")
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.RawQuery = q.Encode()
	return u.String()
}

// Primary is the node that takes writes now (or took them last, once
// StopPrimary stopped it).
func (r *ReplicatedCluster) Primary() *Cluster { return r.nodes[r.primary] }

// Standby is the other node: the hot standby, or the stopped old primary
// between StopPrimary and RebuildStandby.
func (r *ReplicatedCluster) Standby() *Cluster { return r.nodes[1-r.primary] }

// StopPrimary stops the primary with an immediate shutdown, as a crash or
// a lost machine would: clients lose their connections mid-transaction,
// and the standby stops receiving WAL. Promote then makes the standby the
// primary.
func (r *ReplicatedCluster) StopPrimary(t testing.TB) {
	t.Helper()
	c := r.Primary()
	if c.proc == nil {
		t.Fatalf("pgtest: the primary %s is not running", c.settings["cluster_name"])
	}
	err := stopDaemon("postgres", c.proc, c.exited, crashShutdown, 30*time.Second)
	c.proc = nil
	if err != nil {
		t.Fatalf("pgtest: stop the primary: %v", err)
	}
}

// Promote makes the standby the primary (pg_promote, waiting until it
// takes writes). The old primary must be down (StopPrimary): two primaries
// would split the cluster's history. The new primary runs without a
// standby, so without synchronous replication whatever the options, until
// RebuildStandby gives it one (as Patroni's synchronous_mode does when it
// is not strict): commits keep going rather than wait for a node that is
// gone.
func (r *ReplicatedCluster) Promote(t testing.TB) {
	t.Helper()
	old := r.Primary()
	if old.proc != nil {
		t.Fatal("pgtest: Promote with the primary still running; StopPrimary first")
	}
	next := r.Standby()
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	// pg_promote answers false, not an error, when the promotion did not
	// finish within its wait.
	var promoted bool
	if err := queryRow1(ctx, next.URL(), &promoted, "SELECT pg_promote(true, 60)"); err != nil || !promoted {
		t.Fatalf("pgtest: promote %s: promoted %v, %v", next.settings["cluster_name"], promoted, err)
	}
	r.primary, r.stopped = 1-r.primary, true
}

// RebuildStandby makes the stopped old primary a standby of the new one:
// its data directory is thrown away and copied afresh with pg_basebackup
// -R (the old primary may have commits the new one never received, so it
// cannot simply follow), and it starts again on its old port, so URL
// still names both nodes. It returns once the node streams (and is the
// synchronous standby, when Synchronous).
func (r *ReplicatedCluster) RebuildStandby(t testing.TB) {
	t.Helper()
	if !r.stopped {
		t.Fatal("pgtest: RebuildStandby with no stopped node; StopPrimary and Promote first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	c := r.Standby()
	if err := c.rebuildFrom(ctx, r.Primary(), nodeName(1-r.primary)); err != nil {
		t.Fatalf("pgtest: rebuild %s as a standby: %v", c.settings["cluster_name"], err)
	}
	r.stopped = false
	if err := r.attachStandby(ctx); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

func (c *Cluster) rebuildFrom(ctx context.Context, primary *Cluster, slot string) error {
	if err := os.RemoveAll(c.dataDir()); err != nil {
		return err
	}
	if err := c.baseBackup(ctx, primary, slot); err != nil {
		return err
	}
	err := c.startServer(ctx, c.port)
	if errors.Is(err, errPortTaken) {
		return fmt.Errorf("another process took port %d while the node was down", c.port)
	}
	return err
}

// baseBackup copies from's data into c's data directory as a standby of
// from (-R: standby.signal and primary_conninfo), streaming through a new
// replication slot on from, so that from keeps the WAL the standby has not
// received yet.
func (c *Cluster) baseBackup(ctx context.Context, from *Cluster, slot string) error {
	bin, err := c.bin.program("pg_basebackup")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "-D", c.dataDir(),
		"-d", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres", from.port),
		"-R", "--create-slot", "--slot="+slot, "--wal-method=stream",
		"--checkpoint=fast", "--no-sync")
	cmd.Dir = c.dir
	configureInitdbCmd(cmd, c.account) // the data directory belongs to the server's account
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pg_basebackup: %w", ctx.Err())
		}
		return fmt.Errorf("%s: %w\n%s", bin, err, bytes.TrimSpace(out))
	}
	return c.readVersion()
}

// attachStandby waits until the standby streams from the primary and,
// when Synchronous, makes it the synchronous standby. Named with '*'
// rather than by name, the setting stays true whichever node is the
// standby.
func (r *ReplicatedCluster) attachStandby(ctx context.Context) error {
	primary, standby := r.Primary().URL(), nodeName(1-r.primary)
	want := "async"
	if r.opts.Synchronous {
		want = "sync"
		if err := exec1(ctx, primary, "ALTER SYSTEM SET synchronous_standby_names = '*'"); err != nil {
			return err
		}
		if err := exec1(ctx, primary, "SELECT pg_reload_conf()"); err != nil {
			return err
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var state string
	for {
		err := queryRow1(ctx, primary, &state,
			"SELECT coalesce(max(state || ' ' || sync_state), 'absent') FROM pg_stat_replication WHERE application_name = $1", standby)
		if err == nil && state == "streaming "+want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby %s not streaming (%s) from the primary within %s: %v (replication state: %s)",
				standby, want, startupTimeout, ctx.Err(), state)
		case <-tick.C:
		}
	}
}

// WaitReplayed waits until the standby has replayed everything the primary
// has written so far, so that a read on the standby sees it.
func (r *ReplicatedCluster) WaitReplayed(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lsn string
	if err := queryRow1(ctx, r.Primary().URL(), &lsn, "SELECT pg_current_wal_lsn()::text"); err != nil {
		t.Fatalf("pgtest: the primary's WAL position: %v", err)
	}
	for {
		var done bool
		err := queryRow1(ctx, r.Standby().URL(), &done, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn)
		if err == nil && done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pgtest: the standby did not replay up to %s: %v (last error: %v)", lsn, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CutReplication stops the standby receiving WAL, as a network failure
// between the nodes would, and returns once the primary has seen it go.
// With asynchronous replication the primary keeps committing, and what
// it commits from then on is lost if it fails: a test shows that
// loss with it. With synchronous replication, commits wait instead.
func (r *ReplicatedCluster) CutReplication(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	standby := r.Standby().URL()
	// An empty primary_conninfo, reloaded, stops the WAL receiver
	// (PostgreSQL 13 and later); the standby stays a standby.
	for _, sql := range []string{"ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()"} {
		if err := exec1(ctx, standby, sql); err != nil {
			t.Fatalf("pgtest: cut replication: %v", err)
		}
	}
	for {
		var n int
		err := queryRow1(ctx, r.Primary().URL(), &n, "SELECT count(*) FROM pg_stat_replication")
		if err == nil && n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pgtest: the standby still streams after its primary_conninfo was emptied: %v (last error: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func exec1(ctx context.Context, dbURL, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

func queryRow1(ctx context.Context, dbURL string, dest any, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql, args...).Scan(dest)
}
