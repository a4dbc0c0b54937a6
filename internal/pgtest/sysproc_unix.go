//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverAccount is the OS account initdb and postgres run as; nil means
// the current one.
type serverAccount struct {
	name     string
	uid, gid uint32
}

// serverAccountForCurrentUser returns nil unless we are root: PostgreSQL
// refuses to run as root, so then it runs as the "postgres" OS user, the
// account every distribution's package creates.
func serverAccountForCurrentUser() (*serverAccount, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root, so the server would run as the OS user \"postgres\", "+
			"but looking it up failed (%v); create it (useradd --system --user-group postgres) or run as a normal user", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("OS user postgres: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("OS user postgres: gid %q: %w", u.Gid, err)
	}
	return &serverAccount{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// prepareDir hands dir to the account and checks that the account can reach
// it, which fails when TMPDIR is under a private home like /root.
func (a *serverAccount) prepareDir(dir string) error {
	if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("give %s to OS user %s: %w", dir, a.name, err)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		reachable := !ok || perm&0o001 != 0 ||
			(st.Uid == a.uid && perm&0o100 != 0) || (st.Gid == a.gid && perm&0o010 != 0)
		if !reachable {
			return fmt.Errorf("OS user %s, which runs the server, cannot enter %s (mode %04o); set TMPDIR to a directory it can reach, such as /tmp", a.name, d, perm)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// own gives path to the account, for files its processes must read; a nil
// account (we are not root) already owns what we create.
func (a *serverAccount) own(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("give %s to OS user %s: %w", path, a.name, err)
	}
	return nil
}

// configureServerCmd runs postgres as the account; on our death it gets
// SIGINT, a fast shutdown.
func configureServerCmd(cmd *exec.Cmd, a *serverAccount) {
	configureDaemonCmd(cmd, a, syscall.SIGINT)
}

// configurePoolerCmd runs pgbouncer as the account; on our death it gets
// SIGTERM, its immediate shutdown (its SIGINT would wait for clients).
func configurePoolerCmd(cmd *exec.Cmd, a *serverAccount) {
	configureDaemonCmd(cmd, a, syscall.SIGTERM)
}

// configureDaemonCmd runs cmd as the account (when not nil) and in its own
// process group, so that a Ctrl-C meant for the command under test does
// not also shut the server down under it; Stop shuts it down.
func configureDaemonCmd(cmd *exec.Cmd, a *serverAccount, onParentDeath syscall.Signal) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if a != nil {
		attr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid}
	}
	setParentDeathSignal(attr, onParentDeath)
	cmd.SysProcAttr = attr
}

// configureInitdbCmd runs initdb as the account; it stays in our process
// group, so Ctrl-C stops it with us.
func configureInitdbCmd(cmd *exec.Cmd, a *serverAccount) {
	if a != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid}}
	}
}

// fastShutdown asks postgres for a "fast" shutdown (what pg_ctl stop -m
// fast sends): roll back sessions, checkpoint, exit.
func fastShutdown(p *os.Process) error { return p.Signal(syscall.SIGINT) }

// crashShutdown asks postgres for an "immediate" shutdown (pg_ctl stop -m
// immediate): every process quits at once, with no checkpoint, as if the
// machine had died; the next start replays the WAL.
func crashShutdown(p *os.Process) error { return p.Signal(syscall.SIGQUIT) }

// immediateShutdown asks pgbouncer to close every connection and exit.
func immediateShutdown(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

const platformSupported = true

// lockDir marks dir as in use for as long as the returned file stays open;
// the kernel drops the lock when we die, however we die. The lock is taken
// before the file gets its name, so removeAbandonedDirs never sees a
// lock file that is not yet locked.
func lockDir(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ownerLockName+".*")
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, ownerLockName)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// removeAbandonedDirs removes what clusters of killed processes (a
// panicking test, go test -timeout) left in tmp: each holds a fresh initdb,
// some 40 MB. Failures are ignored; they only leave the garbage in place.
func removeAbandonedDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPrefix+"*"))
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, ownerLockName))
		if err != nil {
			continue // not ours to judge: being created, or another user's
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(d)
		}
		f.Close()
	}
}
