package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// binarySearch says where to look for the server binaries. Tests inject
// their own PATH and roots; Start uses defaultBinarySearch.
type binarySearch struct {
	path  string   // a PATH-style list, searched first, in order
	globs []string // directory patterns; among matches the newest version wins
}

func defaultBinarySearch() binarySearch {
	return binarySearch{
		path: os.Getenv("PATH"),
		globs: []string{
			"/usr/lib/postgresql/*/bin",         // Debian, Ubuntu
			"/usr/pgsql-*/bin",                  // RHEL, Fedora (PGDG)
			"/opt/homebrew/opt/postgresql*/bin", // Homebrew, Apple silicon
			"/usr/local/opt/postgresql*/bin",    // Homebrew, Intel
		},
	}
}

// serverBinaries are taken from one directory: an initdb of one major
// version makes a data directory that a postgres of another refuses.
type serverBinaries struct {
	initdb   string
	postgres string
}

func findServerBinaries(s binarySearch) (serverBinaries, error) {
	for _, dir := range filepath.SplitList(s.path) {
		if b, ok := serverBinariesIn(dir); ok {
			return b, nil
		}
	}
	for _, pattern := range s.globs {
		dirs, _ := filepath.Glob(pattern) // only ErrBadPattern, and the patterns are fixed
		slices.SortStableFunc(dirs, func(a, b string) int {
			return slices.Compare(dirVersion(b), dirVersion(a))
		})
		for _, dir := range dirs {
			if b, ok := serverBinariesIn(dir); ok {
				return b, nil
			}
		}
	}
	return serverBinaries{}, fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found on PATH nor in %s; "+
		"install them with `apt-get install postgresql` (Debian/Ubuntu), `dnf install postgresql-server` (RHEL/Fedora) "+
		"or `brew install postgresql` (macOS)", strings.Join(s.globs, ", "))
}

func serverBinariesIn(dir string) (serverBinaries, bool) {
	if dir == "" {
		return serverBinaries{}, false // an empty PATH entry means ".", which we do not trust
	}
	b := serverBinaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
	return b, isExecutable(b.initdb) && isExecutable(b.postgres)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

var versionPattern = regexp.MustCompile(`\d+(\.\d+)*`)

// dirVersion reads the version out of paths like /usr/lib/postgresql/15/bin,
// /usr/pgsql-16/bin or .../opt/postgresql@17/bin; none reads as 0.
func dirVersion(dir string) []int {
	m := versionPattern.FindAllString(filepath.Dir(dir), -1)
	if len(m) == 0 {
		return []int{0}
	}
	var v []int
	for _, part := range strings.Split(m[len(m)-1], ".") {
		n, _ := strconv.Atoi(part)
		v = append(v, n)
	}
	return v
}

// ClientProgram returns the path of a PostgreSQL client program (pg_dump,
// pg_restore, psql) taken from the directory Start takes the server from:
// pg_dump refuses a server newer than itself. It fails the test, saying
// what to install, when there is none: a test that needs it must not pass
// without running.
func ClientProgram(t testing.TB, name string) string {
	t.Helper()
	b, err := findServerBinaries(defaultBinarySearch())
	if err != nil {
		t.Fatalf("pgtest: %s: %v", name, err)
	}
	bin, err := b.program(name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return bin
}

// program is the path of the client program name (pg_dump, pg_basebackup)
// of the same version as the server.
func (b serverBinaries) program(name string) (string, error) {
	// A PATH entry may hold links to the server's own directory
	// (/usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres):
	// the client programs are beside the target.
	server := b.postgres
	if real, err := filepath.EvalSymlinks(server); err == nil {
		server = real
	}
	dir := filepath.Dir(server)
	bin := filepath.Join(dir, name)
	if !isExecutable(bin) {
		return "", fmt.Errorf("%s not found beside the PostgreSQL server binaries in %s; install the PostgreSQL client programs of the same version "+
			"(`apt-get install postgresql-client`, `dnf install postgresql` or `brew install postgresql`)", name, dir)
	}
	return bin, nil
}
