// Package benchkit is what the benchmarks in tools/bench share: a
// PostgreSQL to run against, the pgsecrets binary, and timing of child
// processes with their peak memory.
package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// Server is a PostgreSQL server to benchmark against.
type Server struct {
	URL     string
	cluster *pgtest.Cluster
}

// StartServer uses url when given, else starts a throwaway server (which
// runs with fsync off: the figures compare two workloads on the same server,
// they are not absolute).
func StartServer(ctx context.Context, serverURL string) (*Server, error) {
	if serverURL != "" {
		return &Server{URL: serverURL}, nil
	}
	c, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		return nil, fmt.Errorf("start a throwaway PostgreSQL (or pass -database-url): %w", err)
	}
	return &Server{URL: c.URL(), cluster: c}, nil
}

// Stop stops a server StartServer started.
func (s *Server) Stop() {
	if s.cluster != nil {
		_ = s.cluster.Stop()
	}
}

// NewDatabase creates a fresh database and returns its URL.
func (s *Server) NewDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "drop database if exists "+ident+" with (force)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "create database "+ident+" template template0"); err != nil {
		return "", err
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// BuildPgsecrets builds the binary into dir, from the module the
// benchmark is run in.
func BuildPgsecrets(dir string) (string, error) {
	bin := filepath.Join(dir, "pgsecrets")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/pgsecrets/terraform-provider-pgsecrets").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Run is one child process's cost.
type Run struct {
	Wall    time.Duration
	CPU     time.Duration // user + system
	PeakRSS int64         // bytes
}

// RunChild runs a command to completion, its stdout to stdoutPath (or
// discarded when empty), and returns its wall time and peak RSS (getrusage
// of the child). A failure includes its stderr.
func RunChild(stdoutPath string, env []string, name string, args ...string) (Run, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if stdoutPath != "" {
		f, err := os.Create(stdoutPath)
		if err != nil {
			return Run{}, err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Run{}, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := Run{Wall: wall}
	if ru != nil {
		r.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

// MiB formats bytes as MiB.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Verdict says whether a figure meets its target.
func Verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// Load reports the machine's load average, since the figures depend on
// what else runs.
func Load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
