package reencrypt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// canary is a value that must never show up outside a decryption.
const canary = "canary-7f3a9c-never-logged"

// valueOf is the value of secret i in the fixtures: distinct per secret,
// each containing the canary.
func valueOf(project string, i int) string {
	return fmt.Sprintf("%s-%s-%04d", canary, project, i)
}

func putSecrets(t testing.TB, st *store.Store, project string, n int) {
	t.Helper()
	for i := range n {
		_, err := st.PutSecret(context.Background(), store.PutSecretInput{
			Project: project, Name: fmt.Sprintf("S%04d", i), Value: []byte(valueOf(project, i)), ExpectedRevision: store.MustNotExist,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

type row struct {
	project, name, ciphertext, kid string
	bound                          bool
	revision                       int64
}

func readRows(t testing.TB, db *storetest.DB) map[string]row {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "select project, name, ciphertext, kid, bound, revision from secrets")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.project, &r.name, &r.ciphertext, &r.kid, &r.bound, &r.revision); err != nil {
			t.Fatal(err)
		}
		out[r.project+"/"+r.name] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// decryptAll opens every secret directly with ring, binding checked, and
// returns the values by project/name.
func decryptAll(t testing.TB, db *storetest.DB, ring *keyring.Keyring) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, r := range readRows(t, db) {
		d, err := ring.Decrypt(r.ciphertext, keyring.SecretBinding(r.project, r.name, r.revision))
		if err != nil {
			t.Fatalf("decrypt %s: %v", id, err)
		}
		out[id] = string(d.Plaintext)
	}
	return out
}

func kidCounts(t testing.TB, db *storetest.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range readRows(t, db) {
		key := r.kid
		if !r.bound {
			key += " (unbound)"
		}
		out[key]++
	}
	return out
}
