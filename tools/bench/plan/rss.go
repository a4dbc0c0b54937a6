package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/tools/bench/internal/benchkit"
)

// watchRSS follows, until stop is called, the peak resident set (VmHWM) of
// the children of pid whose executable's name starts with prefix:
// Terraform's provider plugins. It keeps the largest in *peak. The peak
// is sampled, so growth in a plugin's last 50 ms may be missed; VmHWM
// itself is the kernel's exact high-water mark up to the last sample.
func watchRSS(pid int, prefix string, peak *int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, pid := range benchkit.Children(pid) {
				child := strconv.Itoa(pid)
				exe, err := os.Readlink("/proc/" + child + "/exe")
				if err != nil || !strings.HasPrefix(filepath.Base(exe), prefix) {
					continue
				}
				*peak = max(*peak, highWaterMark(child))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// highWaterMark is a process's peak resident set in bytes, 0 when unknown.
func highWaterMark(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
