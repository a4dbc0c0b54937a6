package cli

import (
	"os"
	"runtime/debug"
)

// fewerGCs trades a little memory for CPU in a command that allocates
// heavily (JOSE parsing, JSON) over a small live set, where the default GC
// would collect far more often than that set needs: re-encryption holds a
// few batches, render a document and its values. The soft limit keeps the
// heap, hence peak RSS, bounded all the same. GOGC or GOMEMLIMIT in the
// environment win. It returns a func restoring the previous settings.
func fewerGCs(softLimit int64) (restore func()) {
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
