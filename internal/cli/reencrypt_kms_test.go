package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// The move of a store from before project keys, from a JWK root to an AWS
// KMS root prepended with key add, by a reencrypt killed (kill -9) twice
// mid-run: no secret is lost, and the rerun leaves every secret under its
// project's key, every project key wrapped by the KMS root.
func TestReencryptToAnAWSKMSRootKilledMidRunThenRerunLosesNothing(t *testing.T) {
	bin := pgsecretsBinary(t)
	kms := pgtest.StartLocalKMS(t)
	s := newSession(t)
	const n = 1500
	s.seedSecrets(n)
	if r := s.addKMSRoot(kms, "prod-kms", kms.Alias); r.code != 0 {
		t.Fatalf("key add:\n%s", r)
	}

	moved := s.killReencryptTimes(bin, 2, n)

	r := s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, fmt.Sprintf("re-encrypted %d secret(s)", n-moved)) || !strings.Contains(r.stdout, "failed:           0") {
		t.Fatalf("rerun:\n%s", r.stdout)
	}
	if c := s.projectKeysNotWrappedBy("prod-kms"); c != 0 {
		t.Fatalf("%d project keys not wrapped by the KMS root after the rerun", c)
	}
	// The JWK goes: the KMS root alone reads every secret, each under its
	// project's key.
	s.onlyFirstRootKey()
	if got := checkValues(t, s.secretStates(), n); got != n {
		t.Fatalf("after the rerun %d of %d secrets are under their project's key", got, n)
	}
	t.Logf("KMS calls over the three runs and the checks: Decrypt %d, Encrypt %d, DescribeKey %d",
		kms.Calls("Decrypt"), kms.Calls("Encrypt"), kms.Calls("DescribeKey"))
}

// A project key rotation under an AWS KMS root, which unwraps each
// project's old key when it reaches that project's secrets, meets a KMS
// outage mid-run: it fails within the bound on one line naming the key and
// the cause, leaving every secret readable; with the KMS back, a rerun
// finishes.
func TestReencryptMeetingAnAWSKMSOutageFailsNamingTheKeyThenRerunFinishes(t *testing.T) {
	t.Run("refusing connections", func(t *testing.T) {
		testReencryptThroughKMSOutage(t, kmsOutage{
			start: (*pgtest.LocalKMS).Stop, end: (*pgtest.LocalKMS).Restart,
			bound: rootkeys.AWSKMSTimeout, cause: "KMS unreachable",
		})
	})
	// A KMS that holds the connection and never answers (overloaded, or
	// behind a firewall that drops packets) is given up on at the entry's
	// timeout, not waited on for ever.
	t.Run("never answering", func(t *testing.T) {
		testReencryptThroughKMSOutage(t, kmsOutage{
			timeout: "1500ms",
			start:   (*pgtest.LocalKMS).Hang, end: func(k *pgtest.LocalKMS) error { k.Answer(); return nil },
			bound: 1500 * time.Millisecond, cause: "no answer from KMS within 1.5s",
		})
	})
}

// kmsOutage is how a KMS goes away and comes back, and what a process
// meeting it must say, within what bound.
type kmsOutage struct {
	timeout string // the root key entry's "timeout", if any
	start   func(*pgtest.LocalKMS)
	end     func(*pgtest.LocalKMS) error
	bound   time.Duration
	cause   string
}

func testReencryptThroughKMSOutage(t *testing.T, outage kmsOutage) {
	bin := pgsecretsBinary(t)
	kms := pgtest.StartLocalKMS(t)
	s := newUnmigratedSession(t)
	s.keysFile = filepath.Join(t.TempDir(), "kms-keys.json")
	entry := kms.Entry("prod-kms", kms.Alias)
	if outage.timeout != "" {
		entry = strings.TrimSuffix(entry, "}}") + fmt.Sprintf(`, "timeout": %q}}`, outage.timeout)
	}
	if err := os.WriteFile(s.keysFile, []byte("["+entry+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.mustRun("", "migrate", "up")
	// One project after another, so that the run reaches each project's
	// secrets, and needs its old key, in turn.
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: s.dbURL, Schema: store.DefaultSchema, Actor: "seed"}, s.keyring(s.keysFile))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for p := range 8 {
		for i := range 60 {
			project, name := fmt.Sprintf("team-%d", p), fmt.Sprintf("S%05d", i)
			value := fmt.Sprintf("%s-%s", reencryptValue(i), project)
			if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision}); err != nil {
				t.Fatal(err)
			}
			values[project+"/"+name] = value
		}
	}
	st.Close()
	time.Sleep(1100 * time.Millisecond)

	kms.ResetCalls()
	cmd, progress := s.startReencrypt(bin, "--rotate-older-than", "1s", "--batch-size", "5", "--workers", "1")
	for i := 0; i < 3 && progress.Scan(); i++ {
	}
	outage.start(kms)
	stopped := time.Now()
	var stderr strings.Builder
	for progress.Scan() {
		stderr.WriteString(progress.Text() + "\n")
	}
	err = cmd.Wait()
	took := time.Since(stopped)
	t.Logf("reencrypt after the outage (exit %v, %s after the KMS stopped):\n%s", err, took.Round(time.Millisecond), stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("reencrypt went through a KMS outage with exit %d", code)
	}
	if took > outage.bound+3*time.Second {
		t.Errorf("reencrypt failed %s after the outage, over the %s bound", took, outage.bound)
	}
	var errLines []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "Error: ") {
			errLines = append(errLines, line)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("want one Error line, got %d:\n%s", len(errLines), stderr.String())
	}
	for _, want := range []string{"prod-kms", "AWS KMS key " + kms.Alias + " in " + kms.Region, outage.cause,
		"run reencrypt again to finish"} {
		if !strings.Contains(errLines[0], want) {
			t.Errorf("error lacks %q: %s", want, errLines[0])
		}
	}
	// The key is there; its service is not: no advice to add it back.
	if strings.Contains(errLines[0], "in no key of the keyring") {
		t.Errorf("the outage is reported as keys missing from the keyring: %s", errLines[0])
	}

	if err := outage.end(kms); err != nil {
		t.Fatal(err)
	}
	// Nothing was half-done: every secret reads, under its old key or its
	// new one.
	got := s.secretStates()
	moved := 0
	for id, want := range values {
		if got[id].value != want {
			t.Fatalf("%s: value changed or lost after the outage", id)
		}
		if got[id].current {
			moved++
		}
	}
	if moved == len(values) {
		t.Fatal("everything was done before the outage; the test proves nothing")
	}
	t.Logf("%d of %d secrets under their project's new key when the KMS went away", moved, len(values))

	r := s.mustRun("", "reencrypt")
	if !strings.Contains(r.stdout, "failed:           0") {
		t.Fatalf("rerun with the KMS back:\n%s", r.stdout)
	}
	got = s.secretStates()
	for id, want := range values {
		if got[id].value != want || !got[id].current {
			t.Fatalf("%s: after the rerun, value lost or not under its project's key", id)
		}
	}
	for p, kids := range s.projectKIDs() {
		if len(kids) != 1 {
			t.Errorf("project %s keeps keys %v after the rerun, want its new key alone", p, kids)
		}
	}
}
