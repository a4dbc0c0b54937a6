package benchkit

import (
	"fmt"
	"os"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// harness lets a benchmark use pgtest's replicated cluster, which is built
// for tests: Fatal stops the program (after the cleanups, so no server is
// left running), Cleanup runs at close. Any other testing.TB method would
// panic on the nil embedded value; the cluster calls none.
type harness struct {
	testing.TB
	cleanups []func()
}

func (h *harness) Helper()          {}
func (h *harness) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }
func (h *harness) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
func (h *harness) Fatalf(format string, args ...any) {
	h.Errorf(format, args...)
	h.close()
	os.Exit(1)
}
func (h *harness) Fatal(args ...any) { h.Fatalf("%s", fmt.Sprint(args...)) }

func (h *harness) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
}

// Replicated is a primary with a streaming hot standby (pgtest's,
// asynchronous), both throwaway.
type Replicated struct {
	*pgtest.ReplicatedCluster
	h *harness
}

// StartReplicated starts a Replicated; Stop stops both servers.
func StartReplicated() *Replicated {
	h := &harness{}
	return &Replicated{ReplicatedCluster: pgtest.NewReplicatedCluster(h, pgtest.ReplicationOptions{}), h: h}
}

// WaitReplayed waits until the standby has replayed all the primary wrote.
func (r *Replicated) WaitReplayed() { r.ReplicatedCluster.WaitReplayed(r.h) }

// Stop stops both servers and removes their directories.
func (r *Replicated) Stop() { r.h.close() }
