package cli

import (
	"fmt"
	"os"
	"path/filepath"
)

// atomicFile is written under a temporary name beside its destination and
// renamed over it only when complete, so an interrupted command never
// leaves a truncated file that looks whole. os.CreateTemp makes it 0600,
// which suits rendered secrets and audit exports alike.
type atomicFile struct {
	*os.File
	dest      string
	committed bool
}

func createAtomic(dest string) (*atomicFile, error) {
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file beside %s: %w", dest, err)
	}
	return &atomicFile{File: f, dest: dest}, nil
}

func (a *atomicFile) commit() error {
	// Sync first: a rename that reaches the disk before the data would
	// leave, after a crash, a complete-looking empty file.
	if err := a.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", a.dest, err)
	}
	if err := a.Close(); err != nil {
		return fmt.Errorf("write %s: %w", a.dest, err)
	}
	if err := os.Rename(a.Name(), a.dest); err != nil {
		return fmt.Errorf("rename the finished file into place at %s: %w", a.dest, err)
	}
	a.committed = true
	syncDir(filepath.Dir(a.dest))
	return nil
}

// syncDir flushes a directory, so a rename in it survives a crash: until
// then the old file (for a root keys file, one without the key that now
// encrypts) may come back. Best effort: the file is complete and in place
// either way, and some systems cannot sync a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// abort removes the temporary file unless commit succeeded.
func (a *atomicFile) abort() {
	if !a.committed {
		_ = a.Close()
		_ = os.Remove(a.Name())
	}
}
