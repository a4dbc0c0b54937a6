package gctune

import (
	"runtime/debug"
	"testing"
)

// FewerGCs raises GOGC and sets the soft limit, and its restore puts back
// what was there; GOGC or GOMEMLIMIT in the environment are left alone.
func TestFewerGCsAndRestore(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before, beforeLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer debug.SetGCPercent(before)
	defer debug.SetMemoryLimit(beforeLimit)

	restore := FewerGCs(64 << 20)
	if got := debug.SetGCPercent(-1); got != 400 {
		t.Errorf("GOGC = %d, want 400", got)
	}
	debug.SetGCPercent(400)
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("soft limit = %d, want 64 MiB", got)
	}
	restore()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("after restore GOGC = %d, want 100", got)
	}
	debug.SetGCPercent(100)

	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "1GiB")
	FewerGCs(64 << 20)()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("with GOGC set, GOGC = %d, want it left at 100", got)
	}
	debug.SetGCPercent(100)
}
