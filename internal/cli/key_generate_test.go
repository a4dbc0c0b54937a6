package cli

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
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
