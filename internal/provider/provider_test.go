package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// testAccProvider serves every acceptance test; newTestEnv closes the
// stores it opened for a test's database when the test ends.
var testAccProvider = New("test")()

var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"pgsecrets": providerserver.NewProtocol6WithError(testAccProvider),
}

// testSchema is not the default schema, so a query that forgets the
// configured schema fails the tests.
const testSchema = "acc_pgsecrets"

func TestMain(m *testing.M) {
	cli, err := findTestCLI()
	if err == nil {
		err = useTestCLI(cli)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "provider tests:", err)
		os.Exit(1)
	}
	testCLI = cli
	// Shown with -v, and with any failure.
	fmt.Fprintln(os.Stderr, "provider tests: acceptance tests run", cli)
	os.Setenv("CHECKPOINT_DISABLE", "1")
	pgtest.Main(m)
}

// testEnv is one acceptance test's world: a migrated database of its own,
// fresh root keys, and a store on it for assertions and out-of-band
// changes.
type testEnv struct {
	t           *testing.T
	DatabaseURL string
	Schema      string
	RootKeys    string // JSON, as the provider's root_keys takes it
	Store       *store.Store
	// pool is a direct pool whose search_path is the schema, for SQL that
	// plays an out-of-band change.
	pool *pgxpool.Pool
}

// newTestEnv makes a fresh migrated database and root keys for t.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWithRootKeys(t, newRootKeys(t))
}

// newRootKeys is a fresh root key, as the JSON root_keys takes.
func newRootKeys(t *testing.T) string {
	t.Helper()
	root, err := keyring.Generate("", "dir", "A256GCM")
	if err != nil {
		t.Fatalf("generate root key: %v", err)
	}
	rootJSON, err := keyring.ExportRootKeys([]*keyring.Key{root})
	if err != nil {
		t.Fatalf("encode root key: %v", err)
	}
	return string(rootJSON)
}

// newTestEnvWithRootKeys makes a fresh migrated database for t, used with
// rootKeys (JWKs or key service references, as root_keys takes them).
func newTestEnvWithRootKeys(t *testing.T, rootKeys string) *testEnv {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)

	pool, err := store.Connect(ctx, store.Config{DatabaseURL: url, Schema: testSchema})
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	if _, err := store.Migrate(ctx, pool, testSchema, nil); err != nil {
		pool.Close()
		t.Fatalf("migrate test database: %v", err)
	}
	pool.Close()
	return openTestEnv(t, url, rootKeys)
}

// openTestEnv is the environment of a database at the current schema
// version, opened with rootKeys.
func openTestEnv(t *testing.T, url, rootKeys string) *testEnv {
	t.Helper()
	ctx := context.Background()
	ring, err := rootkeys.Load([]byte(rootKeys))
	if err != nil {
		t.Fatalf("load root keys: %v", err)
	}
	s, err := store.Open(ctx, store.Config{DatabaseURL: url, Schema: testSchema, Actor: "test"}, ring)
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	// Registered after NewDatabase's cleanup, so it runs before the drop.
	t.Cleanup(func() {
		s.Close()
		testAccProvider.(*pgsecretsProvider).stores.closeWhere(url)
	})
	return &testEnv{t: t, DatabaseURL: url, Schema: testSchema, RootKeys: rootKeys, Store: s, pool: pgtest.SchemaPool(t, url, testSchema)}
}

// ProviderConfig is the provider block that points at this environment.
func (e *testEnv) ProviderConfig() string {
	return fmt.Sprintf(`
provider "pgsecrets" {
  database_url = %s
  root_keys    = %s
  schema       = %s
}
`, hclString(e.DatabaseURL), hclString(e.RootKeys), hclString(e.Schema))
}

// rootKeyMaterial is the root key's k, for canary checks.
func (e *testEnv) rootKeyMaterial() string {
	e.t.Helper()
	var keys []struct {
		K string `json:"k"`
	}
	if err := json.Unmarshal([]byte(e.RootKeys), &keys); err != nil || len(keys) == 0 || keys[0].K == "" {
		e.t.Fatalf("root keys of the test environment have no k: %v", err)
	}
	return keys[0].K
}

// newLegacyTestEnv is newTestEnv in the state of a store upgraded with
// secrets from before project keys, not yet moved by reencrypt: the only
// kind of store where global data keys (pgsecrets_encryption_key) still
// encrypt.
func newLegacyTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	storetest.MakeLegacy(t, e.pool, testSchema)
	return e
}

// projectKID is the kid of project's primary key, as the database holds
// it now.
func (e *testEnv) projectKID(project string) string {
	e.t.Helper()
	k, err := e.Store.GetProjectKey(context.Background(), project)
	if err != nil {
		e.t.Fatalf("read the key of project %s: %v", project, err)
	}
	return k.KID
}

// projectKeyMaterial is the k of project's primary key, for canary checks.
// Reading name makes the store unwrap the key.
func (e *testEnv) projectKeyMaterial(project, name string) string {
	e.t.Helper()
	if _, err := e.Store.GetSecret(context.Background(), project, name, "test"); err != nil {
		e.t.Fatalf("read %s/%s: %v", project, name, err)
	}
	key, ok := e.Store.Keyring().ProjectKey(project, e.projectKID(project))
	if !ok {
		e.t.Fatalf("the key of project %s is not in the keyring after a read", project)
	}
	return keyMaterial(e.t, key)
}

func keyMaterial(t *testing.T, key *keyring.Key) string {
	t.Helper()
	b, err := key.ExportJWK()
	if err != nil {
		t.Fatalf("encode data key: %v", err)
	}
	var jwk struct {
		K string `json:"k"`
	}
	if err := json.Unmarshal(b, &jwk); err != nil || jwk.K == "" {
		t.Fatalf("data key has no k: %v", err)
	}
	return jwk.K
}

// projectKIDIs checks, when the check runs, that a value is the kid of
// project's primary key: the key does not exist before the first apply.
type projectKIDIs struct {
	env     *testEnv
	project string
}

func (c projectKIDIs) CheckValue(v any) error {
	got, ok := v.(string)
	if want := c.env.projectKID(c.project); !ok || got != want {
		return fmt.Errorf("kid %v, want %s, the primary key of project %s", v, want, c.project)
	}
	return nil
}

func (c projectKIDIs) String() string { return "the primary key of project " + c.project }

// Exec runs SQL in the environment's schema, as an out-of-band change
// would.
func (e *testEnv) Exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("exec %q: %v", sql, err)
	}
}

// hclString quotes s as an HCL string literal. Go's quoting matches HCL's
// for the text used here, except that HCL also treats "${" and "%{" as
// template sequences.
func hclString(s string) string {
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(strconv.Quote(s))
}

// minTerraform is the first Terraform, and the first OpenTofu, with
// write-only attributes and ephemeral resources.
var minTerraform = version.Must(version.NewVersion("1.11.0"))

// accTest runs an acceptance test against the provider, with any other
// providers the case brings (echo, for ephemeral values).
func accTest(t *testing.T, tc resource.TestCase) {
	t.Helper()
	factories := map[string]func() (tfprotov6.ProviderServer, error){}
	for name, f := range tc.ProtoV6ProviderFactories {
		factories[name] = f
	}
	for name, f := range testAccProtoV6ProviderFactories {
		factories[name] = f
	}
	tc.ProtoV6ProviderFactories = factories
	runAccTest(t, tc)
}

// runAccTest is resource.Test for every acceptance test, whatever
// provider server it serves. Unlike resource.Test, it fails instead of
// skipping without TF_ACC (set by `make test`) or with a Terraform or
// OpenTofu older than 1.11: a skipped acceptance test would pass CI
// without testing anything.
func runAccTest(t *testing.T, tc resource.TestCase) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Fatal("acceptance test needs TF_ACC=1 (run `make test`, or TF_ACC=1 go test ./internal/provider/)")
	}
	tc.TerraformVersionChecks = append(tc.TerraformVersionChecks, tfversion.RequireAbove(minTerraform))
	resource.Test(t, tc)
}

// configure runs the provider's Configure with cfg, as Terraform would.
func configure(t *testing.T, p provider.Provider, cfg providerModel) *provider.ConfigureResponse {
	t.Helper()
	ctx := context.Background()
	var sresp provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &sresp)
	st := tfsdk.State{Schema: sresp.Schema, Raw: tftypes.NewValue(sresp.Schema.Type().TerraformType(ctx), nil)}
	if diags := st.Set(ctx, &cfg); diags.HasError() {
		t.Fatalf("build provider config: %v", diags)
	}
	resp := &provider.ConfigureResponse{}
	p.Configure(ctx, provider.ConfigureRequest{Config: tfsdk.Config{Schema: sresp.Schema, Raw: st.Raw}}, resp)
	t.Cleanup(func() {
		if d, ok := resp.ResourceData.(*providerData); ok {
			d.store.Close()
		}
	})
	return resp
}

func diagText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s: %s\n", d.Severity(), d.Summary(), d.Detail())
	}
	return b.String()
}

func TestProviderConfigureErrorsSayWhatToFixAndLeakNothing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	const password = "hunter2-canary"
	shortKey := `[{"kty":"oct","k":"c2hvcnQta2V5LWNhbmFyeQ","kid":"bad-1","alg":"dir","enc":"A256GCM"}]`
	cases := []struct {
		name      string
		cfg       providerModel
		want      []string
		forbidden []string
	}{
		{
			name: "unmigrated schema",
			cfg:  providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue(env.RootKeys), Schema: types.StringValue("never_migrated")},
			want: []string{"pgsecrets schema not ready", `schema "never_migrated" is not migrated`, "pgsecrets migrate up"},
		},
		{
			name:      "root key of the wrong size",
			cfg:       providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue(shortKey), Schema: types.StringValue(env.Schema)},
			want:      []string{"Invalid pgsecrets root keys", "bad-1"},
			forbidden: []string{"c2hvcnQta2V5LWNhbmFyeQ"},
		},
		{
			name:      "root keys not JSON",
			cfg:       providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue("k=" + password), Schema: types.StringValue(env.Schema)},
			want:      []string{"Invalid pgsecrets root keys", "JSON"},
			forbidden: []string{password},
		},
		{
			name:      "database unreachable",
			cfg:       providerModel{DatabaseURL: types.StringValue("postgres://app:" + password + "@127.0.0.1:1/secrets?connect_timeout=5"), RootKeys: types.StringValue(env.RootKeys)},
			want:      []string{"Cannot open the pgsecrets database", "127.0.0.1", "database_url"},
			forbidden: []string{password},
		},
		{
			name:      "database URL malformed",
			cfg:       providerModel{DatabaseURL: types.StringValue("postgres://app:" + password + "@host:notaport/db"), RootKeys: types.StringValue(env.RootKeys)},
			want:      []string{"Cannot open the pgsecrets database", "database URL is not valid"},
			forbidden: []string{password},
		},
		{
			name: "schema name invalid",
			cfg:  providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue(env.RootKeys), Schema: types.StringValue("Bad-Schema")},
			want: []string{"Invalid pgsecrets schema", "lower-case"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := configure(t, New("test")(), tc.cfg)
			got := diagText(resp.Diagnostics)
			if !resp.Diagnostics.HasError() || resp.ResourceData != nil {
				t.Fatalf("Configure succeeded, want an error; diagnostics: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, got)
				}
			}
			for _, f := range append(tc.forbidden, env.rootKeyMaterial()) {
				if strings.Contains(got, f) {
					t.Errorf("diagnostics leak %q:\n%s", f, got)
				}
			}
		})
	}
}

// With nothing set in the provider block, the settings come from the same
// environment variables as the CLI's; the audit actor says Terraform.
func TestProviderConfigureFallsBackToEnvironment(t *testing.T) {
	env := newTestEnv(t)
	t.Setenv(settings.EnvDatabaseURL, env.DatabaseURL)
	t.Setenv(settings.EnvRootKeys, env.RootKeys)
	t.Setenv(settings.EnvSchema, env.Schema)
	t.Setenv(settings.EnvActor, "")
	resp := configure(t, New("test")(), providerModel{MaxConnections: types.Int64Value(3)})
	if resp.Diagnostics.HasError() {
		t.Fatalf("Configure: %s", diagText(resp.Diagnostics))
	}
	d := resp.ResourceData.(*providerData)
	if resp.DataSourceData != d || resp.EphemeralResourceData != d {
		t.Errorf("data sources and ephemeral resources do not share the resources' store")
	}
	if got := d.store.Schema(); got != env.Schema {
		t.Errorf("schema %q, want %q from %s", got, env.Schema, settings.EnvSchema)
	}
	if got := d.store.Actor(); !strings.HasPrefix(got, "terraform:") || !strings.Contains(got, "@") {
		t.Errorf("default actor %q, want terraform:user@host", got)
	}
	if got := d.store.Pool().Config().MaxConns; got != 3 {
		t.Errorf("pool max connections %d, want 3 from max_connections", got)
	}

	// The terraform: prefix marks the default only.
	actor := func(cfg providerModel) string {
		t.Helper()
		resp := configure(t, New("test")(), cfg)
		if resp.Diagnostics.HasError() {
			t.Fatalf("Configure: %s", diagText(resp.Diagnostics))
		}
		return resp.ResourceData.(*providerData).store.Actor()
	}
	t.Setenv(settings.EnvActor, "ci-job-42")
	if got := actor(providerModel{}); got != "ci-job-42" {
		t.Errorf("actor %q, want %s's ci-job-42", got, settings.EnvActor)
	}
	if got := actor(providerModel{Actor: types.StringValue("alice")}); got != "alice" {
		t.Errorf("actor %q, want the configured alice", got)
	}
}

// Terraform may configure a provider value more than once (the tests
// do, once per command); the same configuration reuses one store.
func TestProviderConfigureReusesOneStorePerConfiguration(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	p := New("test")()
	cfg := providerModel{DatabaseURL: types.StringValue(env.DatabaseURL), RootKeys: types.StringValue(env.RootKeys), Schema: types.StringValue(env.Schema)}
	first := configure(t, p, cfg)
	second := configure(t, p, cfg)
	if first.Diagnostics.HasError() || second.Diagnostics.HasError() {
		t.Fatalf("Configure: %s%s", diagText(first.Diagnostics), diagText(second.Diagnostics))
	}
	if first.ResourceData.(*providerData).store != second.ResourceData.(*providerData).store {
		t.Errorf("a second Configure with the same settings opened another store (and pool)")
	}
}

func TestAccProviderUnmigratedSchemaNamesTheFix(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.Schema = "never_migrated"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      secretWithValue(env, "v", ""),
			ExpectError: regexp.MustCompile(`(?s)schema "never_migrated" is not migrated; run\s+` + "`pgsecrets\\s+migrate\\s+up`"),
		}},
	})
}
