package settings_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// clearLibpqEnv keeps the developer's own PG* variables out of the tests.

func TestTransportWarningForRemoteHostWithoutSSLMode(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	for name, url := range map[string]string{
		"URL":                            "postgres://app:hunter2@db.example.com:5432/app",
		"postgresql URL":                 "postgresql://app:hunter2@db.example.com/app?application_name=x",
		"key=value":                      "host=db.example.com user=app password=hunter2 dbname=app",
		"sslmode only inside a password": "host=db.example.com user=app password='hunter2 sslmode=verify-full'",
		"escaped quote in a password":    `host=db.example.com password='hunter2\' sslmode=require'`,
		"remote IP address":              "postgres://app:hunter2@10.1.2.3/app",
	} {
		t.Run(name, func(t *testing.T) {
			w, ok := settings.TransportWarning(url)
			if !ok {
				t.Fatal("no warning for a remote host without sslmode")
			}
			for _, want := range []string{"neither required to be encrypted nor verified", "sslmode=verify-full", "sslrootcert=FILE"} {
				if !strings.Contains(w.Detail, want) {
					t.Errorf("warning lacks %q:\n%s", want, w.Detail)
				}
			}
			if !strings.Contains(w.Detail, "db.example.com") && !strings.Contains(w.Detail, "10.1.2.3") {
				t.Errorf("warning does not name the host:\n%s", w.Detail)
			}
			if strings.Contains(w.Detail, "hunter2") || strings.Contains(w.Summary, "hunter2") {
				t.Errorf("warning shows the password:\n%s", w.Detail)
			}
		})
	}
}

func TestTransportWarningNamesOnlyTheRemoteHostsOfAMultiHostURL(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	w, ok := settings.TransportWarning("postgres://app@localhost:5432,db.example.com:5432/app")
	if !ok {
		t.Fatal("no warning although one host is remote")
	}
	if !strings.Contains(w.Detail, "connection to db.example.com sets") {
		t.Errorf("warning does not name just the remote host:\n%s", w.Detail)
	}
}

func TestTransportWarningReadsPGHOSTWhenNoURLIsSet(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	t.Setenv("PGHOST", "db.example.com")
	if _, ok := settings.TransportWarning(""); !ok {
		t.Error("no warning for PGHOST naming a remote host without sslmode")
	}
	t.Setenv("PGHOST", "/var/run/postgresql")
	if w, ok := settings.TransportWarning(""); ok {
		t.Errorf("warning for a unix socket from PGHOST: %s", w.Detail)
	}
}

func TestNoTransportWarningForLocalHosts(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	for _, url := range []string{
		"postgres://app:hunter2@localhost/app",
		"postgres://app:hunter2@LOCALHOST:5433/app",
		"postgres://app:hunter2@127.0.0.1/app",
		"postgres://app:hunter2@127.4.5.6/app",
		"postgres://app:hunter2@[::1]:5432/app",
		"postgres:///app?host=/var/run/postgresql",
		"postgres://%2Ftmp/app",
		"host=/tmp dbname=app",
		"host=localhost dbname=app",
	} {
		if w, ok := settings.TransportWarning(url); ok {
			t.Errorf("%s: unexpected warning: %s", url, w.Detail)
		}
	}
}

func TestNoTransportWarningWhenSSLModeIsExplicit(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	for _, url := range []string{
		"postgres://app:hunter2@db.example.com/app?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem",
		"postgres://app:hunter2@db.example.com/app?sslmode=require",
		"postgres://app:hunter2@db.example.com/app?sslmode=disable",
		"postgres://app:hunter2@db.example.com/app?ssl=true",
		"host=db.example.com sslmode=verify-full sslrootcert=/etc/ssl/db-ca.pem",
		"host=db.example.com password='a b' sslmode = require",
		"host=db.example.com\tsslmode=prefer",
	} {
		if w, ok := settings.TransportWarning(url); ok {
			t.Errorf("%s: unexpected warning: %s", url, w.Detail)
		}
	}
}

func TestNoTransportWarningWhenPGSSLMODEIsSet(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	for _, mode := range []string{"verify-full", "require", "disable"} {
		t.Setenv("PGSSLMODE", mode)
		if w, ok := settings.TransportWarning("postgres://app@db.example.com/app"); ok {
			t.Errorf("PGSSLMODE=%s: unexpected warning: %s", mode, w.Detail)
		}
	}
}

func TestNoTransportWarningWhenSystemRootsMakeItVerifyFull(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	// sslrootcert=system turns the default into verify-full in pgx, as in libpq.
	if w, ok := settings.TransportWarning("postgres://app@db.example.com/app?sslrootcert=system"); ok {
		t.Errorf("unexpected warning: %s", w.Detail)
	}
}

func TestNoTransportWarningForAnInvalidURL(t *testing.T) {
	storetest.ClearSettingsEnv(t)
	// Connecting reports it, without quoting the password.
	if w, ok := settings.TransportWarning("postgres://app:hunter2@db.example.com:notaport/app"); ok {
		t.Errorf("unexpected warning: %s", w.Detail)
	}
}

func TestKeywordValueKeysSkipsQuotedValues(t *testing.T) {
	got := settings.KeywordValueKeysForTest(`host=db  password='a b\' sslmode=x' port = 5432 sslmode=require`)
	if want := []string{"host", "password", "port", "sslmode"}; !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}
