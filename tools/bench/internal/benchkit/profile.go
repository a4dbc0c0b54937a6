package benchkit

import (
	"os"
	"runtime/pprof"
	"sync"
)

// CPUProfile profiles this process's CPU into file, for `go tool pprof`,
// until the returned stop is called (a second call does nothing); with
// file "" it does nothing. A benchmark profiles its timed section only,
// hence a start and a stop rather than a whole-process flag.
func CPUProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}
