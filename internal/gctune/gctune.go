// Package gctune trades a little memory for CPU where pgsecrets allocates
// heavily (JOSE parsing, JSON) over a small live set, so that the default
// garbage collector would run far more often than that set needs, taking
// CPU from Terraform and the database on the same machine. A soft memory
// limit keeps the heap, hence peak RSS, bounded all the same. GOGC or
// GOMEMLIMIT in the environment always win.
package gctune

import (
	"os"
	"runtime/debug"
)

// FewerGCs collects at GOGC 400 within softLimit bytes, unless the
// environment says otherwise, and returns a func that restores the
// previous settings.
func FewerGCs(softLimit int64) (restore func()) {
	percent, limit := -2, int64(-1)
	if os.Getenv("GOGC") == "" {
		percent = debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(softLimit)
	}
	return func() {
		if percent != -2 {
			debug.SetGCPercent(percent)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}
