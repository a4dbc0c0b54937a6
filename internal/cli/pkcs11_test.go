//go:build cgo

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/softhsmtest"
)

// prependRootKey makes the session's root keys file start with entry,
// before the keys it holds, as an operator does to rotate.
func (s *session) prependRootKey(entry string) {
	s.t.Helper()
	b, err := os.ReadFile(s.keysFile)
	if err != nil {
		s.t.Fatal(err)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		s.t.Fatal(err)
	}
	b, _ = json.Marshal(append([]json.RawMessage{json.RawMessage(entry)}, keys...))
	path := filepath.Join(s.t.TempDir(), "prepended-keys.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.keysFile = path
}

// The documented move of a store from a JWK root to an HSM root, with the
// CLI and its ordinary settings: the root keys file names the token's key,
// the PIN comes from the environment.
func TestCLIMovesAStoreFromAJWKRootToAnHSMRoot(t *testing.T) {
	s := newSession(t)
	softhsmtest.Module(t)
	s.mustRun("value-one\n", "secret", "add", "--project", "billing", "--name", "STRIPE_KEY")
	s.mustRun("value-two\n", "secret", "add", "--project", "web", "--name", "SESSION_SECRET")

	s.prependRootKey(softhsmtest.Entry("hsm-2026", softhsmtest.Token, "root-a"))
	r := s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, "Rewrapped 2 project key(s) and 0 data key(s) under root key hsm-2026") {
		t.Fatalf("reencrypt to the HSM root:\n%s", r.stdout)
	}
	s.onlyFirstRootKey()
	if got := s.mustRun("", "secret", "get", "--project", "billing", "--name", "STRIPE_KEY").stdout; got != "value-one" {
		t.Fatalf("secret get with the HSM root alone = %q", got)
	}
	s.mustRun("", "audit", "verify")
	r = s.mustRun("", "key", "status")
	if !strings.Contains(r.stdout, "hsm-2026") {
		t.Fatalf("key status does not show the HSM root:\n%s", r.stdout)
	}

	// Without the PIN, the command fails naming the key and what to set.
	t.Setenv("PGSECRETS_PKCS11_PIN", "")
	wantFailure(t, s.run("", "secret", "get", "--project", "billing", "--name", "STRIPE_KEY"), 1,
		"hsm-2026", "object=root-a", "no PIN for the token", "PGSECRETS_PKCS11_PIN")
}
