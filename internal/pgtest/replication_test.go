package pgtest

import (
	"context"
	"testing"
	"time"
)

// The whole life of a synchronous pair: the standby has every commit the
// primary acknowledged, the one URL reaches whichever node is the primary,
// and the old primary comes back as the new primary's synchronous standby.
func TestReplicatedClusterFailsOverAndBack(t *testing.T) {
	r := NewReplicatedCluster(t, ReplicationOptions{Synchronous: true, SynchronousCommit: "remote_apply"})
	first := r.Primary()
	conn := connect(t, r.URL())
	if _, err := conn.Exec(context.Background(), "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// remote_apply: the standby shows the row as soon as the commit returns.
	if got := queryString(t, connect(t, r.Standby().URL()), "SELECT count(*)::text FROM kept"); got != "1" {
		t.Errorf("the synchronous standby has %s rows right after the commit, want 1", got)
	}
	if got := queryString(t, connect(t, r.Standby().URL()), "SELECT pg_is_in_recovery()::text"); got != "true" {
		t.Errorf("the standby is in recovery: %s, want true", got)
	}

	r.StopPrimary(t)
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("a connection to the stopped primary still works")
	}
	r.Promote(t)
	if r.Primary() == first {
		t.Fatal("Promote left the old primary as Primary")
	}
	after := connect(t, r.URL())
	if got := queryString(t, after, "SELECT count(*)::text FROM kept"); got != "1" {
		t.Errorf("the new primary has %s rows, want the 1 committed before the failover", got)
	}
	if _, err := after.Exec(context.Background(), "INSERT INTO kept VALUES (2)"); err != nil {
		t.Fatalf("write through the multi-host URL after the failover: %v", err)
	}

	r.RebuildStandby(t)
	if r.Standby() != first {
		t.Fatal("RebuildStandby did not bring back the old primary as the standby")
	}
	if _, err := after.Exec(context.Background(), "INSERT INTO kept VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, connect(t, first.URL()), "SELECT string_agg(id::text, ',' ORDER BY id) FROM kept"); got != "1,2,3" {
		t.Errorf("the rebuilt standby has rows %s, want 1,2,3", got)
	}
	if got := queryString(t, connect(t, r.URL()), "SELECT inet_server_port()::text"); got != queryString(t, after, "SELECT inet_server_port()::text") {
		t.Errorf("the multi-host URL reaches port %s, want the new primary's", got)
	}
}

// Asynchronous replication acknowledges a commit before the standby has
// it: a commit the standby never received is gone after a failover.
func TestAsynchronousFailoverLosesWhatTheStandbyNeverReceived(t *testing.T) {
	ctx := context.Background()
	r := NewReplicatedCluster(t, ReplicationOptions{})
	conn := connect(t, r.URL())
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r.WaitReplayed(t)
	r.CutReplication(t)
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx2, "INSERT INTO kept VALUES (2)"); err != nil {
		t.Fatalf("an asynchronous primary waited for its standby: %v", err)
	}
	r.StopPrimary(t)
	r.Promote(t)
	if got := queryString(t, connect(t, r.URL()), "SELECT string_agg(id::text, ',' ORDER BY id) FROM kept"); got != "1" {
		t.Errorf("after the failover the rows are %s, want 1 only: row 2 was acknowledged but never reached the standby", got)
	}
}
