// Package provider is the Terraform face of pgsecrets. It is the only
// package that knows Terraform; it calls store, keyring and secretref like
// the CLI does.
package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/boolvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// Resources served by the provider.
var resourceConstructors = []func() resource.Resource{
	NewProjectSecretResource,
	NewEncryptionKeyResource,
	NewProjectKeyResource,
	NewModelDefaultsResource,
	NewProviderDefaultsResource,
}

// Data sources served by the provider.
var dataSourceConstructors = []func() datasource.DataSource{NewResolvedConfigDataSource, NewProjectSecretsDataSource, NewSecretHistoryDataSource, NewSecretVersionsDataSource}

// Ephemeral resources served by the provider.
var ephemeralResourceConstructors = []func() ephemeral.EphemeralResource{NewResolvedConfigEphemeralResource, NewProjectSecretEphemeralResource}

// Provider functions served by the provider.
var functionConstructors = []func() function.Function{NewSecretRefFunction}

// terraformActorPrefix marks audit events made through Terraform when no
// actor is configured, so `audit export --actor` can tell them from the
// CLI's user@host.
const terraformActorPrefix = "terraform:"

var (
	_ provider.Provider                       = (*pgsecretsProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*pgsecretsProvider)(nil)
	_ provider.ProviderWithFunctions          = (*pgsecretsProvider)(nil)
)

// pgsecretsProvider serves the pgsecrets resources. Terraform runs one
// provider process per configuration and configures it once, so each
// process opens one store (one pool, one unwrapped keyring) that every
// resource shares.
type pgsecretsProvider struct {
	version string
	stores  *storeCache
}

// New returns the provider factory used by Serve and by acceptance tests.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &pgsecretsProvider{version: version, stores: &storeCache{byConfig: map[string]cachedStore{}}}
	}
}

func (p *pgsecretsProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "pgsecrets"
	resp.Version = p.version
}

func (p *pgsecretsProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages secrets encrypted as JWE in PostgreSQL: project secrets, data encryption keys and per-project AI model defaults. " +
			"The schema must be created first with `pgsecrets migrate up`.",
		Attributes: map[string]schema.Attribute{
			"database_url": schema.StringAttribute{
				Optional:  true,
				Sensitive: true, // it may hold a password
				MarkdownDescription: "PostgreSQL connection string, as a `postgres://user:password@host:port/dbname` URL or `key=value` pairs. " +
					"When unset: `" + settings.EnvDatabaseURL + "`, else `DATABASE_URL`, else the libpq `PG*` environment variables (`PGHOST`, `PGUSER`, ...). " +
					"For a server on another machine, set `sslmode=verify-full` and `sslrootcert=FILE` (or `PGSSLMODE` / `PGSSLROOTCERT`): " +
					"without an `sslmode` the connection falls back to plaintext and does not verify the server, and the provider warns.",
			},
			"read_url": schema.StringAttribute{
				Optional:  true,
				Sensitive: true, // it may hold a password
				MarkdownDescription: "PostgreSQL connection string of a hot standby of `database_url`'s server (or a multi-host URL with `target_session_attrs=prefer-standby`), " +
					"for the reads a plan repeats: secret metadata on refresh, `pgsecrets_resolved_config`, `pgsecrets_project_secrets`. " +
					"Every read's audit event, every write, and every read after this provider's first write (an apply) go to `database_url`. " +
					"A standby behind the primary may serve a secret's previous revision: a refresh that finds a revision older than state's, or no secret at all, asks the primary; " +
					"`consistent = true` on a data source reads the primary. When unset: `" + settings.EnvReadURL + "`, else every read on `database_url`. See docs/operations.md.",
			},
			"root_keys": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "Root keys: a JSON array of JSON Web Keys (or a JWK Set `{\"keys\": [...]}`) of kty `oct`; the first encrypts, all decrypt. " +
					"An entry may instead name a key AWS KMS holds, `{\"kid\": \"prod-kms\", \"aws_kms\": {\"key_id\": \"alias/pgsecrets\", \"region\": \"eu-west-1\"}}`, used with the AWS default credentials (environment, shared config, IAM role): the value then holds no key material. " +
					"Make a file of them with `pgsecrets key generate --out FILE`. When unset: `" + settings.EnvRootKeys + "`, else the file named by `" + settings.EnvRootKeysFile + "`. " +
					"Prefer the environment or `file()` of a file outside version control: the value is never stored in state, but it is in the configuration. " +
					"Without root keys the provider plans from metadata alone, as a pull request's plan should (with a role granted by `pgsecrets migrate up --grant-planner`): " +
					"`value_wo` secrets, keys and model defaults plan exactly as with keys; a `value` secret written since the last apply plans an update with a warning that its value was not compared; " +
					"`pgsecrets_resolved_config`, the ephemeral resources, imports with a value and every apply fail, naming `root_keys`.",
			},
			"schema": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "PostgreSQL schema holding the pgsecrets tables (lower-case letters, digits, `_`). " +
					"When unset: `" + settings.EnvSchema + "`, else `" + store.DefaultSchema + "`. It must match the `--schema` given to `pgsecrets migrate up`.",
			},
			"actor": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Identity recorded in the audit trail for changes made by this provider, e.g. the CI job or the person applying. " +
					"When unset: `" + settings.EnvActor + "`, else `" + terraformActorPrefix + "user@host` of the process running Terraform.",
			},
			"max_connections": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Most connections the provider opens to PostgreSQL at once, shared by all resources. " +
					"When unset: pgx's default (the larger of 4 and the number of CPUs). Lower it when the database limits connections.",
				Validators: []validator.Int64{int64validator.Between(1, 1000)},
			},
			"strict": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Refuse any ciphertext not bound to its secret and revision: unbound ones (written by another tool, or planted by someone who can write to the database) open in any row, " +
					"and ones bound to their row alone (written before revisions were bound) can be rolled back to an older value. " +
					"Turn it on once `pgsecrets key status` shows 0 unbound and 0 row-only everywhere (`pgsecrets reencrypt` binds them). " +
					"The CLI's `--strict`. When unset: `" + settings.EnvStrict + "`, else false.",
				Validators: []validator.Bool{boolvalidator.ConflictsWith(path.MatchRoot("strict_bindings"))},
			},
			"strict_bindings": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "The earlier name of `strict`: the same setting.",
				DeprecationMessage:  "strict_bindings is now strict, the name the CLI's --strict has: rename the attribute; both mean the same.",
			},
		},
	}
}

// providerModel is the provider block.
type providerModel struct {
	DatabaseURL    types.String `tfsdk:"database_url"`
	ReadURL        types.String `tfsdk:"read_url"`
	RootKeys       types.String `tfsdk:"root_keys"`
	Schema         types.String `tfsdk:"schema"`
	Actor          types.String `tfsdk:"actor"`
	MaxConnections types.Int64  `tfsdk:"max_connections"`
	Strict         types.Bool   `tfsdk:"strict"`
	StrictBindings types.Bool   `tfsdk:"strict_bindings"` // the earlier name of Strict
}

func (p *pgsecretsProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]interface{ IsUnknown() bool }{
		"database_url": cfg.DatabaseURL, "read_url": cfg.ReadURL, "root_keys": cfg.RootKeys, "schema": cfg.Schema, "actor": cfg.Actor, "max_connections": cfg.MaxConnections, "strict": cfg.Strict, "strict_bindings": cfg.StrictBindings,
	} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Provider setting not known yet",
				fmt.Sprintf("pgsecrets needs %s to connect, but it depends on a value known only after apply. Use a value known at plan time (a variable, a literal, the environment), or apply the resources it depends on first with -target.", name))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	// Warnings come first and stay when opening fails: an unverified
	// connection may be why it failed.
	s, warnings, err := p.stores.open(ctx, cfg.explicit())
	for _, w := range warnings {
		addSettingsWarning(&resp.Diagnostics, w)
	}
	if err != nil {
		addConfigureError(&resp.Diagnostics, err)
		return
	}
	tflog.Debug(ctx, "pgsecrets store ready", map[string]any{"schema": s.Schema(), "actor": s.Actor()})

	data := &providerData{store: s}
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
}

// explicit is the provider block, for internal/settings to complete from
// the environment exactly as it does for the CLI. Unset attributes are
// empty, so they fall back.
func (m providerModel) explicit() settings.Explicit {
	return settings.Explicit{
		DatabaseURL:        m.DatabaseURL.ValueString(),
		ReadURL:            m.ReadURL.ValueString(),
		ReadURLSetting:     "read_url",
		UseReadURL:         true,
		RootKeysJSON:       m.RootKeys.ValueString(),
		Schema:             m.Schema.ValueString(),
		Actor:              m.Actor.ValueString(),
		ActorDefaultPrefix: terraformActorPrefix,
		Channel:            store.ChannelTerraform,
		MaxConns:           int32(m.MaxConnections.ValueInt64()),
		Strict:             m.Strict.ValueBool() || m.StrictBindings.ValueBool(),
		ApplicationName:    "pgsecrets-terraform",
		DatabaseURLSetting: "database_url",
		// Without root keys the provider plans from metadata alone (a pull
		// request's plan, as a role that cannot read ciphertexts); what
		// needs a value or a write says so.
		RequireRootKeys: false,
	}
}

// settingAttributes are the attribute, and the diagnostic's summary, for a
// setting that settings refused.
var settingAttributes = map[settings.Setting]struct{ attr, summary string }{
	settings.SettingDatabaseURL: {"database_url", "Cannot open the pgsecrets database"},
	settings.SettingReadURL:     {"read_url", "Invalid pgsecrets read URL"},
	settings.SettingRootKeys:    {"root_keys", "Invalid pgsecrets root keys"},
	settings.SettingSchema:      {"schema", "Invalid pgsecrets schema"},
	settings.SettingStrict:      {"strict", "Invalid strict setting"},
}

// addConfigureError turns a failure to open the store into a diagnostic on
// the attribute to change. Error texts come from store, settings and
// keyring, which never include key material or passwords, and already say
// what to do.
func addConfigureError(diags *diag.Diagnostics, err error) {
	var se *settings.SettingError
	var sv *store.SchemaVersionError
	switch {
	case errors.As(err, &se):
		a := settingAttributes[se.Setting]
		diags.AddAttributeError(path.Root(a.attr), a.summary, se.Error())
	case errors.As(err, &sv):
		diags.AddAttributeError(path.Root("schema"), "pgsecrets schema not ready", sv.Error())
	default:
		diags.AddAttributeError(path.Root("database_url"), "Cannot open the pgsecrets database", sentence(err.Error()))
	}
}

// addSettingsWarning shows a warning from settings as a warning
// diagnostic.
func addSettingsWarning(diags *diag.Diagnostics, w settings.Warning) {
	diags.AddWarning(w.Summary, sentence(w.Detail))
}

// sentence makes a message worded for a command line (lower case, no final
// period) a sentence, as Terraform shows them.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// storeCache keeps the stores this provider instance opened, one per
// distinct configuration. A provider process normally configures once, but
// acceptance tests serve many Terraform commands from one provider value:
// reusing the store keeps them from leaking a pool per command.
type storeCache struct {
	mu       sync.Mutex
	byConfig map[string]cachedStore
}

type cachedStore struct {
	databaseURL string
	store       *store.Store
	// warnings from opening, shown again by every Configure that reuses
	// the store.
	warnings []settings.Warning
}

// open returns the store for e, opening it on first use, and the warnings
// about its settings, even when it fails.
func (c *storeCache) open(ctx context.Context, e settings.Explicit) (*store.Store, []settings.Warning, error) {
	key := e.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.byConfig[key]; ok {
		return cached.store, cached.warnings, nil
	}
	s, warnings, err := settings.Open(ctx, e)
	if err != nil {
		return nil, warnings, err
	}
	c.byConfig[key] = cachedStore{databaseURL: settings.DatabaseURL(e.DatabaseURL), store: s, warnings: warnings}
	return s, warnings, nil
}

// closeWhere closes and forgets the stores whose database URL is url; tests
// call it before dropping their database.
func (c *storeCache) closeWhere(url string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cached := range c.byConfig {
		if cached.databaseURL == url {
			cached.store.Close()
			delete(c.byConfig, k)
		}
	}
}

func (p *pgsecretsProvider) Resources(context.Context) []func() resource.Resource {
	return resourceConstructors
}

func (p *pgsecretsProvider) DataSources(context.Context) []func() datasource.DataSource {
	return dataSourceConstructors
}

func (p *pgsecretsProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return ephemeralResourceConstructors
}

func (p *pgsecretsProvider) Functions(context.Context) []func() function.Function {
	return functionConstructors
}
