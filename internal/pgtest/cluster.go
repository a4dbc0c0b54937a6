// Package pgtest runs a throwaway PostgreSQL server for tests and dev
// tools, and gives each test a database of its own.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure Start.
type Options struct {
	// Log receives the server log. When nil, the log is kept in
	// postgres.log in the cluster's directory until Stop. Either way a
	// startup error ends with the log's last lines.
	Log io.Writer

	// settings override the server's defaults (see serverSettings): a
	// replicated cluster's nodes commit durably.
	settings map[string]string
}

// Cluster is a running throwaway server: data in a temporary directory,
// listening on 127.0.0.1 only, superuser "postgres" with trust auth.
type Cluster struct {
	dir     string
	port    int
	version string // major version, from PG_VERSION

	// What starting the server again (Restart) needs.
	bin      serverBinaries
	account  *serverAccount
	log      io.Writer
	settings map[string]string

	proc    *os.Process
	exited  <-chan struct{} // closed once proc has exited
	lock    *os.File        // held while the cluster lives, see lockDir
	logFile *os.File
	tail    *tailBuffer // the log's end, for startup errors

	stopOnce sync.Once
	stopErr  error
}

var errPlatformUnsupported = errors.New("a throwaway PostgreSQL needs Linux, macOS or another Unix")

// errPortTaken means another process bound the port between our probe and
// the server's bind; Start then tries another port.
var errPortTaken = errors.New("port taken")

// dirPrefix and ownerLockName mark a cluster's directory, so that
// removeAbandonedDirs knows what it may remove.
const (
	dirPrefix     = "pgsecrets-pgtest-"
	ownerLockName = "owner.lock"
)

// startupTimeout bounds Start when ctx has no deadline.
const startupTimeout = time.Minute

// withStartupDeadline is ctx, bounded by startupTimeout unless it already
// has a deadline.
func withStartupDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, startupTimeout)
}

// Start creates a data directory with initdb and starts postgres on a free
// port. Stop shuts it down and removes everything. The server is tuned for
// speed over durability (fsync=off and friends): a crash loses it, which
// for a throwaway server is fine.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	return start(ctx, opts, (*Cluster).initdb)
}

// start is Start with the data directory made by makeData: initdb for a
// new server, a base backup for a standby.
func start(ctx context.Context, opts Options, makeData func(*Cluster, context.Context) error) (*Cluster, error) {
	if !platformSupported {
		return nil, errPlatformUnsupported
	}
	ctx, cancel := withStartupDeadline(ctx)
	defer cancel()
	bin, err := findServerBinaries(defaultBinarySearch())
	if err != nil {
		return nil, err
	}
	account, err := serverAccountForCurrentUser()
	if err != nil {
		return nil, err
	}
	dir, lock, err := workDir(dirPrefix, "throwaway PostgreSQL", account)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, lock: lock, bin: bin, account: account, settings: opts.settings, tail: &tailBuffer{max: 4 << 10}}
	started := false
	defer func() {
		if !started {
			c.Stop()
		}
	}()
	if err := makeData(c, ctx); err != nil {
		return nil, err
	}

	c.log = opts.Log
	if c.log == nil {
		c.logFile, err = os.Create(filepath.Join(dir, "postgres.log"))
		if err != nil {
			return nil, err
		}
		c.log = c.logFile
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		err = c.startServer(ctx, port)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return nil, err
		}
	}
	started = true
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) initdb(ctx context.Context) error {
	// -U postgres: the superuser has the same name whoever runs the tests.
	// --locale=C: no dependence on the host's locales, and stable sorting.
	cmd := exec.CommandContext(ctx, c.bin.initdb, "-D", c.dataDir(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Dir = c.dir // the server account may not be able to enter our working directory
	configureInitdbCmd(cmd, c.account)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("initdb: %w", ctx.Err())
		}
		return fmt.Errorf("%s: %w\n%s", c.bin.initdb, err, bytes.TrimSpace(out))
	}
	return c.readVersion()
}

func (c *Cluster) readVersion() error {
	v, err := os.ReadFile(filepath.Join(c.dataDir(), "PG_VERSION"))
	if err != nil {
		return err
	}
	c.version = strings.TrimSpace(string(v))
	return nil
}

// startServer starts postgres on port, which Restart keeps and Start
// chooses afresh when another process took it (errPortTaken).
func (c *Cluster) startServer(ctx context.Context, port int) error {
	c.port = port
	c.tail.reset()

	// postgres itself rather than pg_ctl start, which detaches the server:
	// as our child it can be told to stop when we die (see
	// setParentDeathSignal).
	args := []string{"-D", c.dataDir(), "-p", strconv.Itoa(port)}
	for _, kv := range c.serverSettings() {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(c.bin.postgres, args...)
	cmd.Dir = c.dir
	w := io.MultiWriter(c.log, c.tail)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second // backends hold the log pipe too; do not wait on them forever
	configureServerCmd(cmd, c.account)

	exited, err := startDaemon(cmd)
	if err != nil {
		return err
	}
	c.proc, c.exited = cmd.Process, exited

	if err := c.waitReady(ctx); err != nil {
		c.stopServer()
		log := c.tail.String()
		if strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use") {
			return errPortTaken
		}
		if log != "" {
			return fmt.Errorf("%w; server log ends with:\n%s", err, log)
		}
		return err
	}
	return nil
}

// serverSettings are the server's command-line settings, as name=value,
// in a stable order: the defaults, with the cluster's own in their place.
func (c *Cluster) serverSettings() []string {
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": "", // TCP only: no socket path length limit, no /var/run/postgresql
		"max_connections":         "200",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
	}
	maps.Copy(settings, c.settings)
	var kvs []string
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		kvs = append(kvs, name+"="+settings[name])
	}
	return kvs
}

// startDaemon starts cmd and returns a channel closed once it has exited.
// The parent-death signal (see setParentDeathSignal) fires when the thread
// that forked the child exits, not the process: the child is started from
// a goroutine pinned to its thread, which stays there for the child's life.
func startDaemon(cmd *exec.Cmd) (<-chan struct{}, error) {
	startErr := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-startErr; err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return exited, nil
}

// waitReady waits, as pg_ctl does, for postmaster.pid to name our process
// and say "ready". Unlike polling the port, this cannot mistake another
// server that took the port for ours.
func (c *Cluster) waitReady(ctx context.Context) error {
	pidFile := filepath.Join(c.dataDir(), "postmaster.pid")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(pidFile); err == nil {
			lines := strings.Split(string(b), "\n")
			// line 1: pid, line 8: status (PostgreSQL 10 and later)
			if len(lines) >= 8 && lines[0] == strconv.Itoa(c.proc.Pid) && strings.TrimSpace(lines[7]) == "ready" {
				return nil
			}
		}
		select {
		case <-c.exited:
			return errors.New("postgres exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres to start: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// stopServer asks for a fast shutdown and, if that hangs, kills.
func (c *Cluster) stopServer() error {
	if c.proc == nil {
		return nil
	}
	defer func() { c.proc = nil }()
	return stopDaemon("postgres", c.proc, c.exited, fastShutdown, 30*time.Second)
}

// workDir creates the temporary directory of a throwaway process, after
// removing those that crashed runs abandoned, locks it as in use (see
// lockDir) and hands it to account when one is given. On failure nothing
// is left behind.
func workDir(prefix, what string, account *serverAccount) (string, *os.File, error) {
	removeAbandonedDirs(os.TempDir())
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, fmt.Errorf("create directory for %s: %w", what, err)
	}
	lock, err := lockDir(dir)
	if err == nil && account != nil {
		err = account.prepareDir(dir)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, lock, nil
}

// stopDaemon asks a process started by startDaemon to shut down, and kills
// it if it has not exited within grace.
func stopDaemon(name string, proc *os.Process, exited <-chan struct{}, shutdown func(*os.Process) error, grace time.Duration) error {
	if err := shutdown(proc); err != nil && !errors.Is(err, os.ErrProcessDone) {
		proc.Kill()
	}
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
		proc.Kill()
		<-exited
		return fmt.Errorf("%s did not shut down within %s; killed it", name, grace)
	}
}

// URL is the superuser's URL for the database "postgres".
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Port is the port the server listens on, on 127.0.0.1.
func (c *Cluster) Port() string { return strconv.Itoa(c.port) }

// Stop shuts the server down and removes its directory. Calling it again
// returns the first call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		errs := []error{c.stopServer()}
		if c.logFile != nil {
			c.logFile.Close()
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove throwaway PostgreSQL directory: %w", err))
		}
		if c.lock != nil {
			c.lock.Close() // after RemoveAll: until then the directory is ours
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// freePort asks the kernel for a port nobody listens on. Another process
// may take it before the server binds it; Start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
