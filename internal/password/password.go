// Package password hashes and checks dashboard account passwords with
// argon2id, stored in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so that the parameters
// travel with each hash and can be raised later without invalidating the
// hashes already stored.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// MinLength is the shortest password accepted, in characters.
const MinLength = 12

// maxLength bounds a password, in bytes: argon2 reads all of it, and a
// sign-in form must not be a way to make the server hash megabytes.
const maxLength = 1024

// Params are argon2id's cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// DefaultParams follow OWASP's argon2id recommendation (19 MiB, two
// passes, one lane): a few tens of milliseconds per sign-in on a server,
// and expensive for whoever steals the table.
var DefaultParams = Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Limits on parameters read back from a stored hash. The hash comes from
// the database, and a writer there must not be able to make a sign-in
// allocate gigabytes or spin for minutes.
const (
	maxMemory     = 256 * 1024 // KiB
	maxIterations = 16
)

// ErrMismatch is a password that does not match the hash.
var ErrMismatch = errors.New("password does not match")

// Check refuses a password too short or too long to use, without
// quoting it.
func Check(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinLength {
		return fmt.Errorf("the password has %d characters: use at least %d", n, MinLength)
	}
	if len(pw) > maxLength {
		return fmt.Errorf("the password is longer than %d bytes", maxLength)
	}
	return nil
}

// Hash hashes pw with p and a fresh random salt, in PHC format.
func Hash(pw string, p Params) (string, error) {
	if err := Check(pw); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks pw against a PHC-format argon2id hash, comparing in
// constant time. It returns ErrMismatch for a wrong password, and another
// error for a hash it cannot read.
func Verify(pw, encoded string) error {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	if len(pw) > maxLength {
		return ErrMismatch
	}
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// dummyHash is verified against when an account does not exist, so that
// a sign-in takes as long for an unknown email as for a wrong password.
// It is made on first use, not when the program starts.
var dummyHash = sync.OnceValue(func() string {
	h, err := Hash("not-a-password-anyone-has", DefaultParams)
	if err != nil {
		panic(err)
	}
	return h
})

// Waste spends the time of one verification against DefaultParams and
// always fails: the sign-in path calls it for an unknown account.
func Waste(pw string) error {
	_ = Verify(pw, dummyHash())
	return ErrMismatch
}

// decode parses a PHC argon2id string.
func decode(encoded string) (Params, []byte, []byte, error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("stored password hash is not an argon2id PHC string: %s", why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm " + strconv.Quote(parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version " + strconv.Quote(parts[2]))
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + strconv.Quote(kv))
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return bad("parallelism out of range")
			}
			p.Parallelism = uint8(n)
		default:
			return bad("parameter " + strconv.Quote(k))
		}
	}
	if p.Memory == 0 || p.Iterations == 0 || p.Parallelism == 0 || p.Memory > maxMemory || p.Iterations > maxIterations || p.Memory < 8*uint32(p.Parallelism) {
		return bad("parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return bad("salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return bad("hash")
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
