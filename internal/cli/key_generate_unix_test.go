//go:build unix

package cli

import (
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestKeyGenerateFilesAre0600EvenWithAPermissiveUmask: the mode comes from
// creating the file 0600, not from the umask (a umask only removes bits),
// whichever way the file is written.
func TestKeyGenerateFilesAre0600EvenWithAPermissiveUmask(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	path := filepath.Join(t.TempDir(), "root-keys.json")
	for _, args := range [][]string{
		{"--out", path, "--kid", "a"},
		{"--out", path, "--force", "--kid", "b"},
		{"--out", path, "--prepend", "--kid", "c"},
	} {
		r := runCLI(t, "", false, append([]string{"key", "generate"}, args...)...)
		if r.code != 0 {
			t.Fatalf("key generate %v failed:\n%s", args, r)
		}
		keyFileKIDs(t, path) // fails unless 0600
	}
	if got := keyFileKIDs(t, path); !slices.Equal(got, []string{"c", "b"}) {
		t.Errorf("kids = %q, want [c b]", got)
	}
}
