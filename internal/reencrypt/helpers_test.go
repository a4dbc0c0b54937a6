package reencrypt_test

import (
	"context"
	"fmt"
	"testing"

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

// checkUnderProjectKeys fails unless every secret and kept earlier value is
// under its project's primary key, bound, and returns those keys' kids by
// project.
func checkUnderProjectKeys(t testing.TB, db *storetest.DB, st *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	primaries := map[string]string{}
	rows, err := db.Pool.Query(ctx, `select 'secret', project, name, kid, bound from secrets
		union all select 'version', project, name || '@' || revision, kid, bound from secret_versions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var what, project, name, kid string
		var bound bool
		if err := rows.Scan(&what, &project, &name, &kid, &bound); err != nil {
			t.Fatal(err)
		}
		if _, ok := primaries[project]; !ok {
			k, err := st.GetProjectKey(ctx, project)
			if err != nil {
				t.Fatalf("project %s has no key: %v", project, err)
			}
			primaries[project] = k.KID
		}
		if kid != primaries[project] || !bound {
			t.Errorf("%s %s/%s is under %s (bound %v), want its project's primary key %s, bound", what, project, name, kid, bound, primaries[project])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return primaries
}
