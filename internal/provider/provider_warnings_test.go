package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

func warningsText(diags diag.Diagnostics) string {
	return diagText(diags.Warnings())
}

func TestProviderWarnsAboutARootKeysFileOthersCanRead(t *testing.T) {
	env := newTestEnv(t)
	path := filepath.Join(t.TempDir(), "root-keys.json")
	if err := os.WriteFile(path, []byte(env.RootKeys), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(settings.EnvRootKeys, "")
	t.Setenv(settings.EnvRootKeysFile, path)
	cfg := providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), Schema: types.StringValue(env.Schema)}

	resp := configure(t, New("test")(), cfg)
	if resp.Diagnostics.HasError() {
		t.Fatalf("Configure: %s", diagText(resp.Diagnostics))
	}
	want := "Warning: Root keys file open to other users: Root keys file " + path + " has mode 0644, so users other than its owner can read it: run `chmod 600 " + path + "`.\n"
	if got := warningsText(resp.Diagnostics); got != want {
		t.Errorf("warnings:\n got %q\nwant %q", got, want)
	}
	if strings.Contains(diagText(resp.Diagnostics), env.rootKeyMaterial()) {
		t.Error("a diagnostic shows key material")
	}

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if resp := configure(t, New("test")(), cfg); resp.Diagnostics.HasError() || len(resp.Diagnostics.Warnings()) != 0 {
		t.Errorf("after chmod 600, diagnostics = %s, want none", diagText(resp.Diagnostics))
	}
}

// A server on another machine at an address no server answers (RFC 5737):
// the warning comes with the connection error, without the password.
func TestProviderWarnsAboutAnUnverifiedRemoteDatabase(t *testing.T) {
	env := newTestEnv(t)
	t.Setenv("PGSSLMODE", "")
	const password = "hunter2-canary"
	remote := "postgres://app:" + password + "@192.0.2.1:5432/app?connect_timeout=1"

	resp := configure(t, New("test")(), providerModel{DatabaseURL: types.StringValue(remote), RootKeys: types.StringValue(env.RootKeys)})
	got := warningsText(resp.Diagnostics)
	for _, want := range []string{
		"Warning: Database connection may be unencrypted and unverified: The connection to 192.0.2.1 sets no sslmode",
		"sslmode=verify-full and sslrootcert=FILE",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if all := diagText(resp.Diagnostics); strings.Contains(all, password) {
		t.Errorf("diagnostics show the password:\n%s", all)
	}

	resp = configure(t, New("test")(), providerModel{DatabaseURL: types.StringValue(remote + "&sslmode=require"), RootKeys: types.StringValue(env.RootKeys)})
	if got := warningsText(resp.Diagnostics); got != "" {
		t.Errorf("warnings despite sslmode=require:\n%s", got)
	}
}

func TestProviderConfigureOnThisMachineHasNoWarnings(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	resp := configure(t, New("test")(), providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue(env.RootKeys), Schema: types.StringValue(env.Schema)})
	if len(resp.Diagnostics) != 0 {
		t.Errorf("diagnostics = %s, want none", diagText(resp.Diagnostics))
	}
}

func TestProviderDatabaseURLIsSensitive(t *testing.T) {
	var resp provider.SchemaResponse
	New("test")().Schema(context.Background(), provider.SchemaRequest{}, &resp)
	if !resp.Schema.Attributes["database_url"].IsSensitive() {
		t.Error("database_url is not sensitive, but it may hold a password")
	}
}
