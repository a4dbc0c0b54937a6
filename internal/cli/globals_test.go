package cli

import (
	"bytes"
	"context"
	"testing"
)

func TestCLIConnectionsNamePgsecretsToTheServer(t *testing.T) {
	s := newSession(t)
	g := &globalOptions{IO: &IOStreams{ErrOut: &bytes.Buffer{}}, DatabaseURL: s.dbURL}
	pool, _, err := g.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var name string
	if err := pool.QueryRow(context.Background(), "select current_setting('application_name')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "pgsecrets" {
		t.Errorf("application_name = %q, want pgsecrets", name)
	}
}
