package rootkeys_test

import (
	"context"
	"os"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/softhsmtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

func TestMain(m *testing.M) {
	cleanup := softhsmtest.Setup()
	code := pgtest.Run(m)
	cleanup()
	os.Exit(code)
}

// wrappingKIDs counts the project keys by the root that wraps them.
func wrappingKIDs(t *testing.T, db *storetest.DB) map[string]int {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "select wrapping_kid, count(*) from project_keys group by 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var kid string
		var n int
		if err := rows.Scan(&kid, &n); err != nil {
			t.Fatal(err)
		}
		out[kid] = n
	}
	return out
}
