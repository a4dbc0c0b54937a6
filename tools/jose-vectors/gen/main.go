// Command gen writes ciphertexts made by pgsecrets' keyring, one set with
// each example root key as the primary, for Node's jose to decrypt
// (vectors.mjs decrypt). Run it from tools/jose-vectors: see README.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// vector is one ciphertext and what it must decrypt to; the same shape as
// from-jose.json, so both directions read alike.
type vector struct {
	KID       string          `json:"kid"`
	Alg       string          `json:"alg"`
	Enc       string          `json:"enc"`
	Binding   keyring.Binding `json:"binding"`
	Plaintext string          `json:"plaintext"`
	JWE       string          `json:"jwe"`
}

func main() {
	rootKeysPath := flag.String("root-keys", "../../internal/keyring/testdata/root-keys.json", "root keys (the DESIGN.md example)")
	plaintextsPath := flag.String("plaintexts", "plaintexts.json", "plaintexts to encrypt, as [{name, plaintext}]")
	out := flag.String("out", "../../internal/keyring/testdata/jose/from-pgsecrets.json", "file to write")
	flag.Parse()
	if err := run(*rootKeysPath, *plaintextsPath, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(rootKeysPath, plaintextsPath, out string) error {
	rootKeysJSON, err := os.ReadFile(rootKeysPath)
	if err != nil {
		return err
	}
	roots, err := keyring.ParseRootKeys(rootKeysJSON)
	if err != nil {
		return err
	}
	plaintextsJSON, err := os.ReadFile(plaintextsPath)
	if err != nil {
		return err
	}
	var plaintexts []struct{ Name, Plaintext string }
	if err := json.Unmarshal(plaintextsJSON, &plaintexts); err != nil {
		return fmt.Errorf("%s: %w", plaintextsPath, err)
	}

	var vectors []vector
	for i, primary := range roots {
		// The first root key encrypts: put this one first, the rest after.
		order := append([]*keyring.Key{primary}, roots[:i]...)
		order = append(order, roots[i+1:]...)
		ring, err := keyring.New(order)
		if err != nil {
			return err
		}
		seal := func(binding keyring.Binding, plaintext string) error {
			jwe, kid, err := ring.Encrypt([]byte(plaintext), binding)
			if err != nil {
				return err
			}
			vectors = append(vectors, vector{KID: kid, Alg: primary.Alg, Enc: primary.Enc, Binding: binding, Plaintext: plaintext, JWE: jwe})
			return nil
		}
		for _, p := range plaintexts {
			if err := seal(keyring.SecretBinding("demo", p.Name, 1), p.Plaintext); err != nil {
				return err
			}
		}
		// What another tool would have written: no binding.
		if err := seal("", "written without a binding"); err != nil {
			return err
		}
	}

	data, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}
