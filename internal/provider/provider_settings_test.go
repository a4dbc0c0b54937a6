package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestProviderConnectionsNameTerraformToTheServer(t *testing.T) {
	t.Setenv("PGAPPNAME", "")
	env := newTestEnv(t)
	resp := configure(t, New("test")(), providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue(env.RootKeys), Schema: types.StringValue(env.Schema)})
	if resp.Diagnostics.HasError() {
		t.Fatalf("Configure: %s", diagText(resp.Diagnostics))
	}
	var name string
	pool := resp.ResourceData.(*providerData).store.Pool()
	if err := pool.QueryRow(context.Background(), "select current_setting('application_name')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "pgsecrets-terraform" {
		t.Errorf("application_name = %q, want pgsecrets-terraform", name)
	}
}

// Like the CLI, the provider names the target and the attribute that
// chose it, once, without pgx's report of every attempt.
func TestProviderUnreachableDatabaseNamesTargetAndAttribute(t *testing.T) {
	env := newTestEnv(t)
	resp := configure(t, New("test")(), providerModel{DatabaseURL: types.StringValue("postgres://app:hunter2@127.0.0.1:1/secrets"), RootKeys: types.StringValue(env.RootKeys)})
	want := "Error: Cannot open the pgsecrets database: Connect to database app@127.0.0.1:1/secrets (from database_url): connection refused.\n"
	if got := diagText(resp.Diagnostics.Errors()); got != want {
		t.Errorf("diagnostics:\n got %q\nwant %q", got, want)
	}
	if strings.Contains(diagText(resp.Diagnostics), "hunter2") {
		t.Error("a diagnostic shows the password")
	}
}
