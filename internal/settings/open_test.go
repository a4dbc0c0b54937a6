package settings_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// nothingListens is a database no server answers (port 1), with a password
// no message may show.
const nothingListens = "postgres://nobody:hunter2@127.0.0.1:1/x"

func TestActorPrefixMarksTheDefaultOnly(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	if got := settings.Actor("", "terraform:"); !strings.HasPrefix(got, "terraform:") || !strings.Contains(got, "@") {
		t.Errorf("default actor %q, want terraform:user@host", got)
	}
	if got := settings.Actor("alice", "terraform:"); got != "alice" {
		t.Errorf("explicit actor %q, want alice as given", got)
	}
	t.Setenv(settings.EnvActor, "ci-job-42")
	if got := settings.Actor("", "terraform:"); got != "ci-job-42" {
		t.Errorf("actor %q, want %s's ci-job-42 as given", got, settings.EnvActor)
	}
	if got := settings.Actor("alice", "terraform:"); got != "alice" {
		t.Errorf("actor %q, want the explicit alice over %s", got, settings.EnvActor)
	}
}

func TestOpenRequiringRootKeysFailsWithoutThemBeforeConnecting(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	_, _, err := settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens, RequireRootKeys: true})
	var se *settings.SettingError
	if !errors.As(err, &se) || se.Setting != settings.SettingRootKeys || !strings.HasPrefix(err.Error(), "no root keys: set PGSECRETS_ROOT_KEYS") {
		t.Fatalf("error = %v, want the root keys setting error", err)
	}
	var ce *settings.ConnectError
	if errors.As(err, &ce) {
		t.Errorf("error %v came from connecting: root keys are checked first", err)
	}
}

func TestOpenWithoutRootKeysGoesOnWhenNotRequired(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	_, _, err := settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens})
	var ce *settings.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want a connection error: no root keys are needed", err)
	}
}

func TestOpenChecksRootKeysThatAreGivenEvenWhenNotRequired(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	t.Setenv(settings.EnvRootKeys, `[{"kty":"oct","kid":"k1","alg":"dir","enc":"A256GCM","k":"c2hvcnQ"}]`)
	_, _, err := settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens})
	var se *settings.SettingError
	if !errors.As(err, &se) || se.Setting != settings.SettingRootKeys || !strings.Contains(err.Error(), `root key "k1"`) {
		t.Errorf("error = %v, want the key's validation error", err)
	}
}

func TestOpenBlamesTheSettingThatIsWrong(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	_, _, err := settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens, Schema: "Bad-Schema"})
	var se *settings.SettingError
	if !errors.As(err, &se) || se.Setting != settings.SettingSchema {
		t.Errorf("error = %v, want the schema setting's", err)
	}
	t.Setenv(settings.EnvStrict, "maybe")
	_, _, err = settings.Open(context.Background(), settings.Explicit{DatabaseURL: nothingListens})
	if !errors.As(err, &se) || se.Setting != settings.SettingStrict || !strings.Contains(err.Error(), settings.EnvStrict) {
		t.Errorf("error = %v, want the strict setting's", err)
	}
	t.Setenv(settings.EnvStrict, "")
	_, _, err = settings.Open(context.Background(), settings.Explicit{DatabaseURL: "postgres://app:hunter2@host:notaport/db", DatabaseURLSetting: "database_url"})
	if !errors.As(err, &se) || se.Setting != settings.SettingDatabaseURL || !strings.Contains(err.Error(), "(from database_url)") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want the database URL setting's, naming it, without the password", err)
	}
}

func TestConnectFailureNamesTheTargetAndWhereItWasSetOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		explicit string
		env      map[string]string
		want     string
	}{
		{name: "flag", explicit: nothingListens, want: "(from --database-url)"},
		{name: "PGSECRETS_DATABASE_URL", env: map[string]string{settings.EnvDatabaseURL: nothingListens}, want: "(from PGSECRETS_DATABASE_URL)"},
		{name: "DATABASE_URL", env: map[string]string{"DATABASE_URL": nothingListens}, want: "(from DATABASE_URL)"},
		{name: "libpq variables", env: map[string]string{"PGHOST": "127.0.0.1", "PGPORT": "1", "PGUSER": "nobody", "PGDATABASE": "x", "PGPASSWORD": "hunter2"},
			want: "(from PGHOST, PGPORT, PGDATABASE, PGUSER)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.ClearSettingsEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, _, _, err := settings.Connect(context.Background(), settings.Explicit{DatabaseURL: tc.explicit, DatabaseURLSetting: "--database-url"})
			want := "connect to database nobody@127.0.0.1:1/x " + tc.want + ": connection refused"
			if err == nil || err.Error() != want {
				t.Errorf("error:\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestConnectFailureToEveryAddressOfAHostSaysItOnce(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	// localhost is ::1 and 127.0.0.1 on most machines: pgx tries both.
	_, _, _, err := settings.Connect(context.Background(), settings.Explicit{DatabaseURL: "postgres://nobody:hunter2@localhost:1/x"})
	want := "connect to database nobody@localhost:1/x (from the database URL setting): connection refused"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

// pgxAttempt is one connection attempt as pgx reports it: the address,
// around what failed and why.
type pgxAttempt struct{ err error }

func (a pgxAttempt) Error() string { return "127.0.0.1:5432 (127.0.0.1): " + a.err.Error() }
func (a pgxAttempt) Unwrap() error { return a.err }

func attempt(what string, err error) error { return pgxAttempt{fmt.Errorf("%s: %w", what, err)} }

func storeConnectError(attempts ...error) error {
	return &store.ConnectError{Target: "app@127.0.0.1:5432/x", Err: errors.Join(attempts...)}
}

func TestConnectErrorShowsTheServersRefusalNotTheTLSFallback(t *testing.T) {
	err := &settings.ConnectError{Target: "app@127.0.0.1:5432/x", Source: "--database-url", Err: storeConnectError(
		attempt("tls error", errors.New("server refused TLS connection")),
		attempt("server error", &pgconn.PgError{Severity: "FATAL", Code: "3D000", Message: `database "x" does not exist`}),
	)}
	want := `connect to database app@127.0.0.1:5432/x (from --database-url): FATAL: database "x" does not exist (SQLSTATE 3D000: no such database)`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Error("the server's error is not reachable with errors.As")
	}
}

func TestConnectErrorForAWrongPasswordSaysSoWithoutIt(t *testing.T) {
	err := &settings.ConnectError{Target: "app@127.0.0.1:5432/x", Source: settings.EnvDatabaseURL, Err: storeConnectError(
		attempt("failed SASL auth", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "app"`}),
	)}
	want := `connect to database app@127.0.0.1:5432/x (from PGSECRETS_DATABASE_URL): FATAL: password authentication failed for user "app" (SQLSTATE 28P01: wrong password)`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
}

func TestConnectErrorKeepsTheLastAttemptWhenNoServerAnswered(t *testing.T) {
	err := &settings.ConnectError{Target: "app@db:5432/x", Source: "--database-url", Err: storeConnectError(
		attempt("tls error", errors.New("server refused TLS connection")),
	)}
	want := "connect to database app@db:5432/x (from --database-url): tls error: server refused TLS connection"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
}

func TestConnectErrorWithNoDatabaseConfiguredSaysWhereToNameOne(t *testing.T) {
	err := &settings.ConnectError{Target: "me@/tmp:5432/me", Setting: "database_url", Err: storeConnectError(
		attempt("dial error", errors.New("no such file or directory")),
	)}
	if got := err.Error(); !strings.HasSuffix(got, "; no database is configured: give its URL in database_url or PGSECRETS_DATABASE_URL") {
		t.Errorf("error %q lacks the hint", got)
	}
}

func TestKeyTellsConfigurationsApartWithoutHoldingThem(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	value, k := rootKeysJSON(t)
	a := settings.Explicit{DatabaseURL: "postgres://app:hunter2@db/x", RootKeysJSON: value}
	if same := a; same.Key() != a.Key() {
		t.Error("the same settings give two keys")
	}
	if strings.Contains(a.Key(), k) || strings.Contains(a.Key(), "hunter2") {
		t.Error("the key holds key material or the password")
	}
	b := a
	b.Schema = "other"
	if a.Key() == b.Key() {
		t.Error("another schema gives the same key")
	}
	before := a.Key()
	t.Setenv(settings.EnvSchema, "other")
	if a.Key() == before {
		t.Errorf("a change of %s gives the same key", settings.EnvSchema)
	}
}
