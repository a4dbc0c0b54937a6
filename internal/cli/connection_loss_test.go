package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A command that loses its connection midway (a restart, a failover) says
// which database it lost, on one line; other errors pass unchanged.
func TestLostConnectionNamesTheDatabase(t *testing.T) {
	g := &globalOptions{target: "app@db.internal:5432/secrets"}
	shutdown := fmt.Errorf("read secret: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
	got := g.explainConnectionLoss(shutdown).Error()
	for _, want := range []string{"lost the connection to database app@db.internal:5432/secrets", "failed over", "terminating connection"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	other := errors.New(`secret "app/K" not found`)
	if g.explainConnectionLoss(other) != other {
		t.Error("an error that is not a lost connection was rewritten")
	}
	if (&globalOptions{}).explainConnectionLoss(shutdown) != shutdown {
		t.Error("before connecting there is no database to name")
	}
}
