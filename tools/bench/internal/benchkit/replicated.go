package benchkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// ServerCPU returns a reading of the CPU time (user + system) the server
// that dbURL reaches has used so far, all its processes together: the
// postmaster, its live children (backends, walsender, checkpointer...) and
// the children it has reaped, whose time the kernel adds to the
// postmaster's cutime and cstime. Two readings' difference is what a
// workload cost the server, however short-lived its connections.
func ServerCPU(ctx context.Context, dbURL string) (func() (time.Duration, error), error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	var backend int
	err = conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&backend)
	conn.Close(ctx)
	if err != nil {
		return nil, err
	}
	stat, err := procStat(backend)
	if err != nil {
		return nil, fmt.Errorf("the server's processes are not readable here (it must run on this machine): %w", err)
	}
	postmaster := stat.ppid
	return func() (time.Duration, error) { return treeCPU(postmaster) }, nil
}

// clockTick is USER_HZ, the unit of /proc's times: 100 on every Linux.
const clockTick = 100

type procTimes struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func procStat(pid int) (procTimes, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procTimes{}, err
	}
	// The command name, in parentheses, may hold spaces: fields start after
	// its closing parenthesis, at field 3 (state).
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procTimes{}, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return procTimes{}, errors.New("short /proc stat")
	}
	num := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	// f[0] is field 3; ppid is field 4, utime..cstime fields 14..17.
	return procTimes{ppid: int(num(1)), utime: num(11), stime: num(12), cutime: num(13), cstime: num(14)}, nil
}

func treeCPU(postmaster int) (time.Duration, error) {
	p, err := procStat(postmaster)
	if err != nil {
		return 0, err
	}
	ticks := p.utime + p.stime + p.cutime + p.cstime
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, err := procStat(pid)
		if err != nil || c.ppid != postmaster {
			continue // gone meanwhile, or not the server's
		}
		ticks += c.utime + c.stime
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}
