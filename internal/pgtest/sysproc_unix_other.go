//go:build unix && !linux

package pgtest

import "syscall"

// Only Linux can tie the server's life to ours; elsewhere a process killed
// before Stop leaves the server running.
func setParentDeathSignal(*syscall.SysProcAttr) {}
