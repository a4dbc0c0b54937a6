package pgtest

import "syscall"

// setParentDeathSignal makes the kernel send sig to the child when we die
// without stopping it (a test that panics, go test -timeout, SIGKILL):
// nothing is left behind. The signal follows the thread that started the
// child, so startDaemon keeps that thread alive.
func setParentDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) { attr.Pdeathsig = sig }
