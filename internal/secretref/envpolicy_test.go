package secretref

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// recordingEnv is an environment that remembers which names were read.
type recordingEnv struct {
	vars map[string]string
	read []string
}

func (e *recordingEnv) getenv(name string) (string, bool) {
	e.read = append(e.read, name)
	v, ok := e.vars[name]
	return v, ok
}

// The attack: a config that names pgsecrets' own settings, with the
// environment fallback on, to have the root keys and the database password
// rendered into its output (and into Terraform state).
func TestEnvironmentNeverSuppliesSettingsOfPgsecretsPostgresOrTerraform(t *testing.T) {
	const canary = "canary-setting-e4b1"
	settings := []string{
		"PGSECRETS_ROOT_KEYS", "PGSECRETS_DATABASE_URL", "PGSECRETS_ANYTHING", "pgsecrets_root_keys",
		"DATABASE_URL", "PGPASSWORD", "PGHOST", "TF_TOKEN_app_terraform_io", "TF_VAR_password",
	}
	e := &recordingEnv{vars: map[string]string{}}
	var doc strings.Builder
	doc.WriteString("[")
	for i, name := range settings {
		e.vars[name] = canary + "-" + name
		if i > 0 {
			doc.WriteString(",")
		}
		doc.WriteString(`{"$secretRef":{"name":"` + name + `"}}`)
	}
	doc.WriteString("]")

	_, err := Resolve(context.Background(), []byte(doc.String()), Options{Lookup: (&db{}).lookup, EnvFallback: true, Getenv: e.getenv})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T), want *MissingError", err, err)
	}
	if len(me.Missing) != len(settings) {
		t.Errorf("%d names missing, want all %d: %v", len(me.Missing), len(settings), err)
	}
	if len(e.read) != 0 {
		t.Errorf("the environment was read for %v", e.read)
	}
	msg := err.Error()
	if strings.Contains(msg, canary) {
		t.Errorf("error holds a value from the environment: %s", msg)
	}
	for _, want := range []string{
		`"PGSECRETS_ROOT_KEYS" at $[0] (it may not come from the environment: names starting with PGSECRETS_ are pgsecrets' own settings, such as its root keys and database URL)`,
		`"pgsecrets_root_keys" at $[3] (it may not come from the environment: names starting with PGSECRETS_ are`,
		`"DATABASE_URL" at $[4] (it may not come from the environment: DATABASE_URL is a database URL pgsecrets may connect with, password included)`,
		`"PGPASSWORD" at $[5] (it may not come from the environment: names starting with PG are PostgreSQL connection settings (libpq), such as PGPASSWORD)`,
		`"TF_VAR_password" at $[8] (it may not come from the environment: names starting with TF_ are Terraform's settings`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %s\nin %s", want, msg)
		}
	}
	// The environment cannot help, so the error does not suggest it.
	if !strings.HasSuffix(msg, `; create them or give the references a "default"`) {
		t.Errorf("message suggests the environment: %s", msg)
	}
}

func TestRefusedNamesStillComeFromDatabaseOrDefault(t *testing.T) {
	d := &db{values: map[string]string{"PGSECRETS_ROOT_KEYS": "from-db"}}
	getenv := env(map[string]string{"PGSECRETS_ROOT_KEYS": "env-root-keys", "DATABASE_URL": "postgres://u:pw@h/db"})
	res := resolve(t, `{"a":{"$secretRef":{"name":"PGSECRETS_ROOT_KEYS"}},"b":{"$secretRef":{"name":"DATABASE_URL","default":"none"}}}`,
		d, Options{EnvFallback: true, Getenv: getenv})
	if want := `{"a":"from-db","b":"none"}`; string(res.Rendered) != want {
		t.Errorf("rendered %s, want %s", res.Rendered, want)
	}
	if want := map[string]string{"PGSECRETS_ROOT_KEYS": SourceDatabase, "DATABASE_URL": SourceDefault}; !reflect.DeepEqual(sources(res), want) {
		t.Errorf("sources %v, want %v", sources(res), want)
	}
}

func TestMissingRefusedNameWithoutFallbackDoesNotSuggestIt(t *testing.T) {
	_, err := Resolve(context.Background(), []byte(`{"db":{"$secretRef":{"name":"DATABASE_URL"}}}`), Options{Lookup: (&db{}).lookup, Getenv: noEnv})
	want := `1 referenced secret not found in the database and without a default: "DATABASE_URL" at $.db ` +
		`(it may not come from the environment: DATABASE_URL is a database URL pgsecrets may connect with, password included); ` +
		`create them or give the references a "default"`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestEnvAllowListLimitsTheEnvironmentToMatchingNames(t *testing.T) {
	e := &recordingEnv{vars: map[string]string{
		"APP_TOKEN": "app", "APP_": "bare", "EXACT": "exact", "EXACTLY": "no", "OTHER": "no", "PGSECRETS_ROOT_KEYS": "no",
	}}
	doc := `{"t":{"$secretRef":{"name":"APP_TOKEN"}},"b":{"$secretRef":{"name":"APP_"}},"e":{"$secretRef":{"name":"EXACT"}},
	         "l":{"$secretRef":{"name":"EXACTLY","default":"d1"}},"o":{"$secretRef":{"name":"OTHER","default":"d2"}},
	         "k":{"$secretRef":{"name":"PGSECRETS_ROOT_KEYS","default":"d3"}}}`
	// PGSECRETS_* in the list changes nothing: the refusal wins.
	opts := Options{EnvFallback: true, EnvAllow: []string{"APP_*", "EXACT", "PGSECRETS_*"}, Getenv: e.getenv}
	res := resolve(t, doc, &db{}, opts)
	if want := `{"t":"app","b":"bare","e":"exact","l":"d1","o":"d2","k":"d3"}`; string(res.Rendered) != want {
		t.Errorf("rendered %s, want %s", res.Rendered, want)
	}
	if want := []string{"APP_", "APP_TOKEN", "EXACT"}; !reflect.DeepEqual(e.read, want) {
		t.Errorf("environment read for %v, want only %v", e.read, want)
	}

	_, err := Resolve(context.Background(), []byte(`{"o":{"$secretRef":{"name":"OTHER"}}}`), Options{Lookup: (&db{}).lookup, EnvFallback: true, EnvAllow: []string{"APP_*", "EXACT"}, Getenv: e.getenv})
	want := `1 referenced secret not found in the database or the environment and without a default: "OTHER" at $.o ` +
		`(it may not come from the environment: it matches no entry of the environment allow-list (APP_*, EXACT)); ` +
		`create them or give the references a "default"`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestEnvRefusalIsThePolicy(t *testing.T) {
	for _, c := range []struct {
		name    string
		allow   []string
		refused bool
	}{
		{"OPENAI_API_KEY", nil, false},
		{"PAGER_TOKEN", nil, false}, // P, not PG
		{"DATABASE_URL_REPLICA", nil, false},
		{"DATABASE_URL", nil, true},
		{"database_url", nil, true},
		{"PGSECRETS_SCHEMA", nil, true},
		{"PGUSER", nil, true},
		{"Pg_anything", nil, true},
		{"TF_LOG", nil, true},
		{"TF_LOG", []string{"*"}, true},
		{"ANYTHING", []string{"*"}, false},
		{"APP_X", []string{"APP_*"}, false},
		{"app_x", []string{"APP_*"}, true},
		{"APPX", []string{"APP_*"}, true},
		{"APP", []string{"APP"}, false},
	} {
		if got := EnvRefusal(c.name, c.allow) != ""; got != c.refused {
			t.Errorf("EnvRefusal(%q, %q) refused = %v, want %v", c.name, c.allow, got, c.refused)
		}
	}
}

func TestEnvAllowEntriesValidated(t *testing.T) {
	for entry, want := range map[string]string{
		"":       `environment allow-list: an entry is empty; give a name (APP_TOKEN) or a prefix ending in * (APP_*)`,
		" APP_*": `environment allow-list entry " APP_*" contains whitespace; give a name (APP_TOKEN) or a prefix ending in * (APP_*)`,
		"A*B":    `environment allow-list entry "A*B" has a * before its end; only a trailing * is supported, as a prefix (APP_*)`,
		"APP_**": `environment allow-list entry "APP_**" has a * before its end; only a trailing * is supported, as a prefix (APP_*)`,
	} {
		err := ValidateEnvAllow([]string{"OK", entry})
		if err == nil || err.Error() != want {
			t.Errorf("ValidateEnvAllow(%q) = %v, want %s", entry, err, want)
		}
		// Resolve applies the same check.
		_, err = Resolve(context.Background(), []byte(`[]`), Options{Lookup: (&db{}).lookup, EnvFallback: true, EnvAllow: []string{entry}})
		if err == nil || err.Error() != want {
			t.Errorf("Resolve with allow-list %q: %v, want %s", entry, err, want)
		}
	}
	if err := ValidateEnvAllow([]string{"APP_*", "EXACT", "*"}); err != nil {
		t.Errorf("valid allow-list refused: %v", err)
	}
}
