//go:build !unix

package pgtest

import (
	"os"
	"os/exec"
)

type serverAccount struct{ name string }

func serverAccountForCurrentUser() (*serverAccount, error) { return nil, nil }

func (a *serverAccount) prepareDir(string) error { return nil }

func (a *serverAccount) own(string) error { return nil }

func configureServerCmd(*exec.Cmd, *serverAccount) {}

func configurePoolerCmd(*exec.Cmd, *serverAccount) {}

func configureInitdbCmd(*exec.Cmd, *serverAccount) {}

func fastShutdown(p *os.Process) error { return p.Kill() }

func crashShutdown(p *os.Process) error { return p.Kill() }

func immediateShutdown(p *os.Process) error { return p.Kill() }

const platformSupported = false

func lockDir(string) (*os.File, error) { return nil, nil }

func removeAbandonedDirs(string) {}
