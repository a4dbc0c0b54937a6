package pgtest

import "syscall"

// setParentDeathSignal makes the kernel ask postgres for a fast shutdown
// when we die without calling Stop (a test that panics, go test -timeout,
// SIGKILL): no server is left behind. The signal follows the thread that
// started postgres, so Start keeps that thread alive (see startServer).
func setParentDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGINT }
