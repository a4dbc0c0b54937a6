package password

import (
	"errors"
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestHashVerifiesOnlyTheSamePassword(t *testing.T) {
	h, err := Hash("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash holds the password")
	}
	if err := Verify("correct horse battery", h); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := Verify("correct horse batterY", h); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse battery", cheap)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestDefaultParamsHashVerifies(t *testing.T) {
	h, err := Hash("a long enough passphrase", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify("a long enough passphrase", h); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the default parameters", h)
	}
}

func TestShortPasswordRefusedWithoutQuotingIt(t *testing.T) {
	_, err := Hash("short-pw-1", cheap)
	if err == nil || !strings.Contains(err.Error(), "at least 12") || strings.Contains(err.Error(), "short-pw-1") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Hash(strings.Repeat("x", 2000), cheap); err == nil {
		t.Fatal("a 2000-byte password was accepted")
	}
}

func TestMalformedOrCostlyHashesRefused(t *testing.T) {
	for _, h := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		err := Verify("whatever password", h)
		if err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("Verify against %q: %v, want a format error", h, err)
		}
	}
}

func TestWasteAlwaysFails(t *testing.T) {
	if err := Waste("anything at all here"); !errors.Is(err, ErrMismatch) {
		t.Fatal(err)
	}
}
