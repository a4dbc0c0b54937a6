//go:build cgo

package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/softhsmtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// backgroundWriter is a process deployed with the session's root keys
// file that keeps rewriting secrets in two projects (app and billing)
// until stopped.
type backgroundWriter struct {
	stop    chan struct{}
	done    chan error
	mu      sync.Mutex
	written map[string]string // acknowledged writes: the last value of each
}

func (s *session) startWriter(round string) *backgroundWriter {
	s.t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: s.dbURL, Schema: store.DefaultSchema, Actor: "writer"}, s.keyring(s.keysFile))
	if err != nil {
		s.t.Fatal(err)
	}
	w := &backgroundWriter{stop: make(chan struct{}), done: make(chan error, 1), written: map[string]string{}}
	first := make(chan struct{})
	go func() {
		defer st.Close()
		defer close(w.done)
		for pass := 0; ; pass++ {
			for i := 0; i < 60; i++ {
				if i%3 == 2 {
					continue // web: the writer writes in two projects
				}
				select {
				case <-w.stop:
					return
				default:
				}
				project, name := []string{"app", "billing"}[i%3], fmt.Sprintf("S%05d", i)
				value := fmt.Sprintf("%s-%s-%d", reencryptValue(i), round, pass)
				if _, err := st.PutSecret(ctx, store.PutSecretInput{Project: project, Name: name, Value: []byte(value), ExpectedRevision: store.AnyRevision}); err != nil {
					w.done <- err
					return
				}
				w.mu.Lock()
				w.written[project+"/"+name] = value
				n := len(w.written)
				w.mu.Unlock()
				if n == 1 {
					close(first)
				}
			}
		}
	}()
	select {
	case <-first: // writing before the reencrypt starts
	case err := <-w.done:
		s.t.Fatalf("writer: %v", err)
	}
	return w
}

// finish stops the writer and adds its acknowledged writes to written.
func (w *backgroundWriter) finish(t *testing.T, written map[string]string) {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	for id, v := range w.written {
		written[id] = v
	}
}

// The whole chain, JWK → AWS KMS → HSM → JWK, each step the
// ordinary rotation done with the CLI while a writer writes: prepend the
// new root (key add, a pkcs11 entry by hand, key generate --prepend),
// reencrypt, then a host with the new root alone reads every acknowledged
// write and verifies the audit trail.
func TestRootRotationChainJWKToKMSToHSMToJWKUnderAWriter(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	s := movedSession(t, 300)
	softhsmtest.Module(t)
	written := map[string]string{}
	steps := []struct {
		kid     string
		prepend func()
	}{
		{"prod-kms", func() {
			if r := s.addKMSRoot(kms, "prod-kms", kms.KeyARN); r.code != 0 {
				t.Fatalf("key add:\n%s", r)
			}
		}},
		{"prod-hsm", func() { s.prependRootKey(softhsmtest.Entry("prod-hsm", softhsmtest.Token, "root-b")) }},
		{"back-to-jwk", func() {
			if r := runCLI(t, "", false, "key", "generate", "--out", s.keysFile, "--prepend", "--kid", "back-to-jwk"); r.code != 0 {
				t.Fatalf("key generate --prepend:\n%s", r)
			}
		}},
	}
	for _, step := range steps {
		step.prepend()
		w := s.startWriter(step.kid)
		r := s.mustRun("", "reencrypt", "--batch-size", "20")
		w.finish(t, written)
		if !strings.Contains(r.stdout, "under root key "+step.kid) || !strings.Contains(r.stdout, "failed:           0") {
			t.Fatalf("reencrypt to %s:\n%s", step.kid, r.stdout)
		}
		if n := s.projectKeysNotWrappedBy(step.kid); n != 0 {
			t.Fatalf("%s: %d project keys not wrapped by the new first root", step.kid, n)
		}
		t.Logf("%s: the writer's acknowledged writes so far: %d secrets", step.kid, len(written))

		// A host deployed with the new root alone.
		full := s.keysFile
		s.onlyFirstRootKey()
		if got := checkValuesAfterWrites(t, s.secretStates(), 300, written); got != 300 {
			t.Fatalf("%s: %d of 300 secrets under their project's key", step.kid, got)
		}
		if r := s.mustRun("", "audit", "verify"); r.code != 0 {
			t.Fatalf("audit verify with %s alone:\n%s", step.kid, r)
		}
		s.keysFile = full
	}
	t.Logf("KMS calls over the chain: Decrypt %d, Encrypt %d, DescribeKey %d",
		kms.Calls("Decrypt"), kms.Calls("Encrypt"), kms.Calls("DescribeKey"))
}
