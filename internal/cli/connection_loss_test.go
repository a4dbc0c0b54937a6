package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
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
	cutOff := fmt.Errorf("write secret: %w", &store.OutcomeUnknownError{Err: io.ErrUnexpectedEOF})
	got = g.explainConnectionLoss(cutOff).Error()
	if want := "lost the connection to database app@db.internal:5432/secrets while a write was committing (restarted, failed over, or unreachable): " +
		"write secret: commit cut off, outcome unknown: unexpected EOF; the outcome of this write is unknown: run the same command again"; got != want {
		t.Errorf("a commit cut off:\n got %q\nwant %q", got, want)
	}
	rolledBack := fmt.Errorf("write secret: %w", &store.NotAppliedError{Err: io.ErrUnexpectedEOF})
	if got := g.explainConnectionLoss(rolledBack).Error(); !strings.HasSuffix(got, "write secret: unexpected EOF; the write that failed was not applied: run the same command again") {
		t.Errorf("a write cut off before its commit: %q", got)
	}
	other := errors.New(`secret "app/K" not found`)
	if g.explainConnectionLoss(other) != other {
		t.Error("an error that is not a lost connection was rewritten")
	}
	if (&globalOptions{}).explainConnectionLoss(shutdown) != shutdown {
		t.Error("before connecting there is no database to name")
	}
}
