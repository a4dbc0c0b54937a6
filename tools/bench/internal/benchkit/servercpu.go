package benchkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

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
	for _, pid := range Children(postmaster) {
		if c, err := procStat(pid); err == nil { // else gone meanwhile
			ticks += c.utime + c.stime
		}
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// LocalServerCPU is ServerCPU for a benchmark that prints the server's
// CPU beside its own only where it can: a reading that is always 0 when
// the server does not run on this machine.
func LocalServerCPU(ctx context.Context, dbURL string) func() time.Duration {
	read, err := ServerCPU(ctx, dbURL)
	if err != nil {
		return func() time.Duration { return 0 }
	}
	return func() time.Duration {
		d, _ := read()
		return d
	}
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
