package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

var kidPattern = regexp.MustCompile(`^\d{6}-[A-Za-z0-9]{4}$`)

func TestKeyGeneratePrintsLoadableRootKey(t *testing.T) {
	for _, tc := range []struct {
		args          []string
		alg, enc      string
		wantKeyLength int
	}{
		{nil, "dir", "A256GCM", 32},
		{[]string{"--alg", "A128KW"}, "A128KW", "A256GCM", 16},
		{[]string{"--alg", "A192GCMKW", "--enc", "A128GCM"}, "A192GCMKW", "A128GCM", 24},
		{[]string{"--enc", "A256CBC-HS512"}, "dir", "A256CBC-HS512", 64},
	} {
		t.Run(tc.alg+"_"+tc.enc, func(t *testing.T) {
			r := runCLI(t, "", false, append([]string{"key", "generate"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("key generate failed:\n%s", r)
			}
			if strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "{") {
				t.Errorf("stdout is not one JWK line:\n%s", r.stdout)
			}
			keys, err := keyring.ParseRootKeys([]byte("[" + r.stdout + "]"))
			if err != nil {
				t.Fatalf("the printed key does not load as a root key: %v", err)
			}
			key := keys[0]
			if !kidPattern.MatchString(key.KID) || key.Alg != tc.alg || key.Enc != tc.enc {
				t.Errorf("key = %s, want a kid like 250101-Ab3x and %s/%s", key, tc.alg, tc.enc)
			}
			var wire struct {
				K   string `json:"k"`
				Use string `json:"use"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &wire); err != nil {
				t.Fatal(err)
			}
			k, err := base64.RawURLEncoding.DecodeString(wire.K)
			if err != nil || len(k) != tc.wantKeyLength || wire.Use != "enc" {
				t.Errorf("k is %d bytes (err %v) and use %q, want %d bytes and use enc", len(k), err, wire.Use, tc.wantKeyLength)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, key.KID) || !strings.Contains(r.stderr, "PGSECRETS_ROOT_KEYS") {
				t.Errorf("stderr is not a one-line hint naming the kid and PGSECRETS_ROOT_KEYS:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, wire.K) {
				t.Errorf("the hint on stderr repeats the key material")
			}
		})
	}
}

func TestKeyGenerateSetIsCompleteRootKeysWithChosenKid(t *testing.T) {
	r := runCLI(t, "", false, "key", "generate", "--set", "--kid", "prod-2025", "--alg", "A256GCMKW")
	if r.code != 0 {
		t.Fatalf("key generate --set failed:\n%s", r)
	}
	ring, err := keyring.Load([]byte(r.stdout))
	if err != nil {
		t.Fatalf("--set output is not a valid root keys value: %v\n%s", err, r.stdout)
	}
	if got := ring.RootKIDs(); len(got) != 1 || got[0] != "prod-2025" || ring.RootKey().Alg != "A256GCMKW" {
		t.Errorf("root keys = %v (%s), want one key prod-2025 with A256GCMKW", got, ring.RootKey())
	}
	// Two runs never print the same key.
	again := runCLI(t, "", false, "key", "generate", "--set", "--kid", "prod-2025", "--alg", "A256GCMKW")
	if again.stdout == r.stdout {
		t.Error("two key generate runs printed the same key")
	}
}

func TestKeyGenerateRejectsUnsupportedAlgorithmsListingSupported(t *testing.T) {
	r := runCLI(t, "", false, "key", "generate", "--enc", "A512GCM")
	wantFailure(t, r, 2, `unsupported enc "A512GCM"`, "see `pgsecrets key generate --help`")
	for _, enc := range keyring.Encryptions() {
		if !strings.Contains(r.stderr, enc) {
			t.Errorf("the error does not list supported enc %s:\n%s", enc, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("a key was printed despite the error:\n%s", r.stdout)
	}

	r = runCLI(t, "", false, "key", "generate", "--alg", "RSA-OAEP")
	wantFailure(t, r, 2, `unsupported alg "RSA-OAEP"`)
	for _, alg := range keyring.Algorithms() {
		if !strings.Contains(r.stderr, alg) {
			t.Errorf("the error does not list supported alg %s:\n%s", alg, r.stderr)
		}
	}
}

// keyFileKIDs loads a root keys file as pgsecrets does and returns its
// kids in order, failing unless the file is mode 0600.
func keyFileKIDs(t *testing.T, path string) []string {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", filepath.Base(path), perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.Load(data)
	if err != nil {
		t.Fatalf("%s does not load as root keys: %v\n%s", filepath.Base(path), err, data)
	}
	return ring.RootKIDs()
}

// keyMaterial returns every k in a root keys file, which no output may show.
func keyMaterial(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []struct {
		K string `json:"k"`
	}
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = k.K
	}
	return ks
}

func wantNoKeyMaterial(t *testing.T, r result, path string) {
	t.Helper()
	for _, k := range keyMaterial(t, path) {
		if strings.Contains(r.stdout+r.stderr, k) {
			t.Errorf("the output shows key material:\n%s", r)
		}
	}
}

func TestKeyGenerateFileWritesOwnerOnlyRootKeysAndNothingOnStdout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root-keys.json")
	r := runCLI(t, "", false, "key", "generate", "--out", path, "--kid", "first-key")
	if r.code != 0 {
		t.Fatalf("key generate --out failed:\n%s", r)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.stdout)
	}
	want := "Wrote root keys with new key first-key to " + path + " (mode 0600). Next: name it in PGSECRETS_ROOT_KEYS_FILE or --root-keys-file, and back it up: without it nothing it encrypts can be read.\n"
	if r.stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", r.stderr, want)
	}
	if got := keyFileKIDs(t, path); !slices.Equal(got, []string{"first-key"}) {
		t.Errorf("kids = %q, want [first-key]", got)
	}
	wantNoKeyMaterial(t, r, path)
}

func TestKeyGenerateFileNeverOverwritesWithoutForce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root-keys.json")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", false, "key", "generate", "--out", path)
	wantFailure(t, r, 2, path+" already exists and was left unchanged", "--force", "--prepend")
	if r.stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.stdout)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Errorf("the existing file was changed to %q", b)
	}
}

func TestKeyGenerateFileRefusesToWriteThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.json")
	link := filepath.Join(dir, "root-keys.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	r := runCLI(t, "", false, "key", "generate", "--out", link)
	wantFailure(t, r, 2, "already exists")
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the symlink's target was created (err %v)", err)
	}
}

func TestKeyGenerateFileForceReplacesTheFileAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root-keys.json")
	if r := runCLI(t, "", false, "key", "generate", "--out", path, "--kid", "old-key"); r.code != 0 {
		t.Fatalf("key generate --out failed:\n%s", r)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", false, "key", "generate", "--out", path, "--force", "--kid", "new-key")
	if r.code != 0 {
		t.Fatalf("key generate --out --force failed:\n%s", r)
	}
	if r.stdout != "" || !strings.Contains(r.stderr, "new key new-key to "+path) {
		t.Errorf("want nothing on stdout and the kid and file on stderr:\n%s", r)
	}
	if got := keyFileKIDs(t, path); !slices.Equal(got, []string{"new-key"}) {
		t.Errorf("kids = %q, want only new-key", got)
	}
	wantOnlyFiles(t, dir, "root-keys.json")
}

func TestKeyGeneratePrependPutsNewKeyFirstKeepingTheOthersInOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root-keys.json")
	if r := runCLI(t, "", false, "key", "generate", "--out", path, "--kid", "2023-key"); r.code != 0 {
		t.Fatalf("key generate --out failed:\n%s", r)
	}
	if r := runCLI(t, "", false, "key", "generate", "--out", path, "--prepend", "--kid", "2024-key", "--alg", "A256KW"); r.code != 0 {
		t.Fatalf("first --prepend failed:\n%s", r)
	}
	before := keyMaterial(t, path)
	// A file someone else made world-readable comes back 0600.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, "", false, "key", "generate", "--out", path, "--prepend", "--kid", "2025-key", "--alg", "A256GCMKW")
	if r.code != 0 {
		t.Fatalf("key generate --prepend failed:\n%s", r)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.stdout)
	}
	want := "Put new key 2025-key first in " + path + ", before its 2 other key(s) (mode 0600, was 0644). Next: deploy the file to every process that writes secrets, then run `pgsecrets reencrypt` (docs/rotation.md).\n"
	if r.stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", r.stderr, want)
	}
	if got := keyFileKIDs(t, path); !slices.Equal(got, []string{"2025-key", "2024-key", "2023-key"}) {
		t.Errorf("kids = %q, want the new key first, then the others in order", got)
	}
	if after := keyMaterial(t, path); !slices.Equal(after[1:], before) {
		t.Error("the existing keys' material changed")
	}
	wantNoKeyMaterial(t, r, path)
	wantOnlyFiles(t, dir, "root-keys.json")
}

func TestKeyGeneratePrependReadsAJWKSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root-keys.json")
	set := `{"keys": [{"kty":"oct","k":"7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ_g","kid":"220824-xmBI","alg":"dir","enc":"A256GCM","use":"enc"}]}`
	if err := os.WriteFile(path, []byte(set), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", false, "key", "generate", "--out", path, "--prepend", "--kid", "251123-Nw4q")
	if r.code != 0 {
		t.Fatalf("key generate --prepend failed:\n%s", r)
	}
	if got := keyFileKIDs(t, path); !slices.Equal(got, []string{"251123-Nw4q", "220824-xmBI"}) {
		t.Errorf("kids = %q", got)
	}
}

func TestKeyGeneratePrependRefusesAKidTheFileHas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root-keys.json")
	if r := runCLI(t, "", false, "key", "generate", "--out", path, "--kid", "prod-1"); r.code != 0 {
		t.Fatalf("key generate --out failed:\n%s", r)
	}
	before, _ := os.ReadFile(path)
	r := runCLI(t, "", false, "key", "generate", "--out", path, "--prepend", "--kid", "prod-1")
	wantFailure(t, r, 1, path+` was left unchanged: it already has a key with kid "prod-1"; choose another --kid`)
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the file changed")
	}
}

func TestKeyGeneratePrependRefusesAnInvalidFileLeavingItUnchanged(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ content, want string }{
		"a single JWK": {`{"kty":"oct","k":"7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ_g","kid":"220824-xmBI","alg":"dir","enc":"A256GCM"}`, "wrap it in [ ]"},
		"a short key":  {`[{"kty":"oct","k":"7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2v","kid":"220824-xmBI","alg":"dir","enc":"A256GCM"}]`, `root key "220824-xmBI" (#1): k is 24 bytes`},
		"not JSON":     {"7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2vFYFHVbfNJ_g", "expected a JSON array"},
		"empty":        {"", "empty"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "", false, "key", "generate", "--out", path, "--prepend")
			wantFailure(t, r, 1, path+" was left unchanged: it does not hold valid root keys", c.want)
			if strings.Contains(r.stderr, "7U6k5S_HXSujMpr2u7YjRkZLQO6LUK2v") {
				t.Errorf("the error shows key material:\n%s", r.stderr)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); string(b) != c.content || info.Mode().Perm() != 0o644 {
				t.Errorf("the file changed: mode %04o, content %q", info.Mode().Perm(), b)
			}
		})
	}
	wantOnlyFiles(t, dir, "a-short-key.json", "a-single-JWK.json", "empty.json", "not-JSON.json")
}

func TestKeyGeneratePrependToAMissingFileSaysHowToCreateIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root-keys.json")
	r := runCLI(t, "", false, "key", "generate", "--out", path, "--prepend")
	wantFailure(t, r, 1, path+" does not exist", "pgsecrets key generate --out "+path)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file was created (err %v)", err)
	}
}

func TestKeyGenerateFileFlagsThatDoNotGoTogetherAreUsageErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root-keys.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--prepend"}, "--prepend needs --out"},
		{[]string{"--force"}, "--force needs --out"},
		{[]string{"--out", path, "--force", "--prepend"}, "pass one of the two"},
	} {
		r := runCLI(t, "", false, append([]string{"key", "generate"}, c.args...)...)
		wantFailure(t, r, 2, c.want, "see `pgsecrets key generate --help`")
		if r.stdout != "" {
			t.Errorf("%v printed a key:\n%s", c.args, r.stdout)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a usage error created the file (err %v)", err)
	}
}

func TestKeyGenerateHelpShowsEachWayToWriteAFile(t *testing.T) {
	r := runCLI(t, "", false, "key", "generate", "--help")
	for _, want := range []string{
		"pgsecrets key generate --out root-keys.json\n",
		"pgsecrets key generate --out root-keys.json --prepend",
		"pgsecrets key generate --out test-keys.json --force",
		`export PGSECRETS_ROOT_KEYS="$(pgsecrets key generate --set)"`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks the example %q:\n%s", want, r.stdout)
		}
	}
}

// wantOnlyFiles fails when dir holds anything but names, such as a
// temporary file left behind.
func wantOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// The form other tools document, `key generate enc --alg dir --enc
// A256GCM`, makes the same kind of key; any other argument is refused
// without being echoed.
func TestKeyGenerateAcceptsTheKeyUseArgument(t *testing.T) {
	r := runCLI(t, "", false, "key", "generate", "enc", "--alg", "dir", "--enc", "A256GCM")
	if r.code != 0 || !strings.Contains(r.stdout, `"use":"enc"`) || !strings.Contains(r.stdout, `"alg":"dir"`) {
		t.Fatalf("key generate enc:\n%s", r)
	}
	r = runCLI(t, "", false, "key", "generate", "sig")
	wantFailure(t, r, 2, "takes no argument but the key use enc")
	if strings.Contains(r.stderr, "sig") {
		t.Errorf("the refused argument was echoed:\n%s", r)
	}
}
