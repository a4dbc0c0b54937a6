//go:build unix && !linux

package pgtest

import "syscall"

// Only Linux can tie a child's life to ours; elsewhere a process killed
// before Stop leaves the server (and PgBouncer) running.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
