//go:build linux || darwin

package cli

import (
	"os"
	"syscall"
	"unsafe"
)

// inTerminalForeground reports whether f is a terminal whose foreground
// process group is this process's.
func inTerminalForeground(f *os.File) bool {
	var pgrp int32 // pid_t
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TIOCGPGRP), uintptr(unsafe.Pointer(&pgrp)))
	return errno == 0 && int(pgrp) == syscall.Getpgrp()
}
