package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// addKMSRoot puts the local KMS's key first in the session's root keys
// file with `key add`, as an operator does.
func (s *session) addKMSRoot(kms *pgtest.LocalKMS, kid, keyID string) result {
	s.t.Helper()
	return runCLI(s.t, "", false, "key", "add", "--out", s.keysFile, "--prepend", "--kid", kid,
		"--aws-kms-key", keyID, "--aws-region", kms.Region, "--aws-endpoint", kms.Endpoint)
}

func (s *session) projectKeysNotWrappedBy(kid string) int {
	s.t.Helper()
	var n int
	if err := s.pool().QueryRow(context.Background(), "select count(*) from pgsecrets.project_keys where wrapping_kid <> $1", kid).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// The documented move to a KMS root and back, by the ordinary rotation:
// prepend, reencrypt, drop the old root.
func TestRootRotationFromJWKToAWSKMSAndBack(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	s := movedSession(t, 30)
	before, err := os.ReadFile(s.keysFile)
	if err != nil {
		t.Fatal(err)
	}

	r := s.addKMSRoot(kms, "prod-kms", kms.Alias)
	if r.code != 0 || !strings.Contains(r.stderr, "Put new key prod-kms first in "+s.keysFile) {
		t.Fatalf("key add:\n%s", r)
	}
	after, _ := os.ReadFile(s.keysFile)
	lines := strings.Split(string(after), "\n")
	wantFirst := `  {"kid":"prod-kms","aws_kms":{"key_id":"` + kms.Alias + `","region":"` + kms.Region + `","endpoint":"` + kms.Endpoint + `"}},`
	if lines[1] != wantFirst || !strings.Contains(string(after), strings.TrimSpace(strings.Trim(strings.TrimSpace(string(before)), "[]"))) {
		t.Fatalf("root keys file after key add:\n%s\nwant the KMS entry first, then the JWK as it was:\n%s", after, before)
	}

	r = s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, "Rewrapped 3 project key(s) and 0 data key(s) under root key prod-kms; re-encrypted 0 secret(s)") {
		t.Fatalf("reencrypt to the KMS root:\n%s", r.stdout)
	}
	if n := s.projectKeysNotWrappedBy("prod-kms"); n != 0 {
		t.Fatalf("%d project keys not wrapped by the KMS root after reencrypt", n)
	}
	// The JWK goes from every host: the KMS root alone reads everything.
	s.onlyFirstRootKey()
	if got := checkValues(t, s.secretStates(), 30); got != 30 {
		t.Fatalf("%d of 30 secrets read with the KMS root alone", got)
	}
	s.mustRun("written-under-kms", "secret", "add", "--project", "app", "--name", "S00000", "--yes")
	written := map[string]string{"app/S00000": "written-under-kms"}
	if got := s.mustRun("", "secret", "get", "--project", "billing", "--name", "S00001").stdout; got != reencryptValue(1) {
		t.Fatalf("secret get with the KMS root alone = %q", got)
	}
	if r := s.mustRun("", "key", "status"); !strings.Contains(r.stdout, "prod-kms") {
		t.Fatalf("key status with the KMS root alone:\n%s", r.stdout)
	}
	s.mustRun("", "audit", "verify")

	// And back to a JWK root.
	r = runCLI(t, "", false, "key", "generate", "--out", s.keysFile, "--prepend", "--kid", "back-to-jwk")
	if r.code != 0 {
		t.Fatalf("key generate --prepend over a KMS root:\n%s", r)
	}
	if b, _ := os.ReadFile(s.keysFile); !strings.Contains(string(b), wantFirst[:len(wantFirst)-1]) {
		t.Fatalf("key generate --prepend did not keep the KMS entry as written:\n%s", b)
	}
	s.mustRun("", "reencrypt")
	if n := s.projectKeysNotWrappedBy("back-to-jwk"); n != 0 {
		t.Fatalf("%d project keys not wrapped by the new JWK root", n)
	}
	s.onlyFirstRootKey()
	kms.Stop() // nothing needs KMS any more
	if got := checkValuesAfterWrites(t, s.secretStates(), 30, written); got != 30 {
		t.Fatalf("%d of 30 secrets read with the new JWK root alone", got)
	}
}

func TestKeyAddRefusesWhatCannotWorkAndLeavesTheFile(t *testing.T) {
	clearSettingsEnv(t)
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	s := &session{t: t}
	s.keysFile = s.generateKeysFile("root-keys.json")
	before, _ := os.ReadFile(s.keysFile)
	add := func(extra ...string) result {
		return runCLI(t, "", false, append([]string{"key", "add", "--out", s.keysFile}, extra...)...)
	}
	wantFailure(t, add("--kid", "k", "--aws-kms-key", "alias/x"), 2, "--prepend is required")
	wantFailure(t, add("--prepend", "--aws-kms-key", "alias/x"), 2, "--kid is required")
	wantFailure(t, add("--prepend", "--kid", "k"), 2, "--aws-kms-key is required")
	wantFailure(t, add("--prepend", "--kid", "k", "--aws-kms-key", "alias/x"), 1, "no region", "AWS_REGION")
	wantFailure(t, add("--prepend", "--kid", "k", "--aws-kms-key", "arn:aws:kms:us-east-1:111122223333:key/x", "--aws-region", "eu-west-1"), 1,
		"is in region us-east-1 but \"region\" says eu-west-1")
	wantFailure(t, add("--prepend", "--kid", s.rootKID(), "--aws-kms-key", "alias/x", "--aws-region", "eu-west-1"), 1, "already has a key with kid")
	if after, _ := os.ReadFile(s.keysFile); string(after) != string(before) {
		t.Fatalf("a refused key add changed the file:\n%s", after)
	}
	// An ARN gives the region.
	r := add("--prepend", "--kid", "k", "--aws-kms-key", "arn:aws:kms:us-east-1:111122223333:key/x")
	if r.code != 0 {
		t.Fatalf("key add with an ARN:\n%s", r)
	}
	if after, _ := os.ReadFile(s.keysFile); !strings.Contains(string(after), `{"kid":"k","aws_kms":{"key_id":"arn:aws:kms:us-east-1:111122223333:key/x"}}`) {
		t.Fatalf("file after key add:\n%s", after)
	}
}

// A dashboard whose only root key is in KMS signs people in: its session
// key comes from the seed wrapped at registration, opened at start.
func TestServeSignsInWithAnAWSKMSRootAlone(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	s := newUnmigratedSession(t)
	s.keysFile = filepath.Join(t.TempDir(), "kms-keys.json")
	if err := os.WriteFile(s.keysFile, []byte("["+kms.Entry("prod-kms", kms.Alias)+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.mustRun("", "migrate", "up")
	s.mustRun(testPassword, "user", "add", "--email", "admin@example.com", "--role", "admin")
	s.mustRun("xoxb-1-2", "secret", "add", "--project", "app", "--name", "SLACK_BOT_TOKEN")
	rs := s.startServe()
	client := rs.signedIn("admin@example.com")
	res, err := client.Get(rs.base + "/secrets?project=app")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `id="secret-SLACK_BOT_TOKEN"`) {
		t.Fatalf("secrets page after sign-in with a KMS root: %d\n%s", res.StatusCode, body)
	}
	rs.stop()
}
