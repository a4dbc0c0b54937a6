package benchkit

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerProcess follows the CPU time of a PostgreSQL server on this
// machine: its postmaster's, the backends' it reaped, and its live
// children's. On a machine of two CPUs the client and the server share
// the CPUs, and wall time moves with whatever else runs; CPU time moves
// less, so benchmarks print it beside wall time.
type ServerProcess struct{ postmaster int }

// FindServer finds the postmaster of the server at url, through its
// checkpointer's parent; nil when the server is not on this machine (or
// /proc cannot tell), whose CPU is then 0.
func FindServer(ctx context.Context, url string) *ServerProcess {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, "select pid from pg_stat_activity where backend_type = 'checkpointer'").Scan(&pid); err != nil {
		return nil
	}
	f := statFields(pid)
	if len(f) < 2 {
		return nil
	}
	postmaster, err := strconv.Atoi(f[1]) // the checkpointer's parent
	if err != nil {
		return nil
	}
	return &ServerProcess{postmaster: postmaster}
}

// CPU is the server's CPU time so far. A backend that ended counts once
// its postmaster reaped it, which it does at once.
func (s *ServerProcess) CPU() time.Duration {
	if s == nil {
		return 0
	}
	// utime, stime, cutime, cstime: fields 14 to 17 of stat, 11 to 14
	// after the pid and command.
	total := ticks(statFields(s.postmaster), 11, 12, 13, 14)
	for _, child := range Children(s.postmaster) {
		total += ticks(statFields(child), 11, 12)
	}
	return total
}

// Children lists the child process ids of pid, from every thread's
// children file (Linux 3.5+, CONFIG_PROC_CHILDREN); none elsewhere.
func Children(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if v, err := strconv.Atoi(f); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// statFields is /proc/pid/stat after the command name (which may hold
// spaces): the state is field 0, the parent's pid field 1.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return nil
	}
	return strings.Fields(rest)
}

// ticks sums fields of statFields, in clock ticks of 1/100 s (Linux's
// USER_HZ on every architecture Go runs on).
func ticks(f []string, at ...int) time.Duration {
	var sum int64
	for _, i := range at {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			sum += v
		}
	}
	return time.Duration(sum) * 10 * time.Millisecond
}
