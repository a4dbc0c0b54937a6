package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretref"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ datasource.DataSource              = (*resolvedConfigDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*resolvedConfigDataSource)(nil)
)

// resolvedConfigDataSource renders a project's JSON config with its secret
// references replaced. The rendered config lands in state (marked
// sensitive); the ephemeral resource of the same name keeps it out.
type resolvedConfigDataSource struct{ data *providerData }

// NewResolvedConfigDataSource is the pgsecrets_resolved_config data source.
func NewResolvedConfigDataSource() datasource.DataSource { return &resolvedConfigDataSource{} }

func (d *resolvedConfigDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_resolved_config"
}

// Descriptions shared by the data source and the ephemeral resource.
const (
	resolvedProjectDescription = "Project whose secrets the references name."
	resolvedConfigDescription  = "The configuration, a JSON document (build it with `jsonencode()`). " +
		"Every object `{\"$secretRef\": {\"name\": \"NAME\"}}`, anywhere in it, is replaced by the secret's value as a JSON string; " +
		"`{\"$secretRef\": {\"name\": \"NAME\", \"default\": \"text\"}}` falls back to `text` when the secret is found nowhere. " +
		"`provider::pgsecrets::secret_ref(\"NAME\")` builds such an object. `$secretRef` must be alone in its object, with only `name` and `default`; " +
		"a malformed reference fails the plan with its JSON path."
	resolvedEnvFallbackDescription = "When `true`, a secret missing from the database is taken from an environment variable of the same name " +
		"in the environment of the process running Terraform (before any `default`). Defaults to `false`, so an ambient variable never silently stands in for a forgotten secret. " +
		"Names of pgsecrets', PostgreSQL's and Terraform's own settings (`PGSECRETS_*`, `DATABASE_URL`, `PG*`, `TF_*`) are never taken from the environment: " +
		"they hold root keys and database passwords. Such a name comes only from the database or a `default`. `env_allow` narrows the fallback further."
	resolvedEnvAllowDescription = "With `env_fallback = true`, the only names an environment variable may supply: each entry a name (`APP_TOKEN`) " +
		"or a prefix ending in `*` (`APP_*`, every name starting with `APP_`). Omitted or empty, any name may, except those never taken from the environment " +
		"(`PGSECRETS_*`, `DATABASE_URL`, `PG*`, `TF_*`), which no entry lets through. A name the list refuses comes from the database or its `default`; " +
		"if neither has it, the error says the list refused it. Setting `env_allow` without `env_fallback = true` is an error."
	resolvedConsistentDescription = "When `true`, the values are read on the primary (`database_url`) even when the provider has a `read_url`: " +
		"the latest revision of each secret, never the previous one a standby behind the primary may still serve. Defaults to `false`. " +
		"Without a `read_url`, or once this provider has written anything (an apply), every read is on the primary anyway."
	resolvedReferencesDescription = "Names of the secrets the config references, sorted, without repeats."
	resolvedSourcesDescription    = "Where each referenced name's value came from: `database`, `environment` or `default`."
)

func (d *resolvedConfigDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Renders a JSON configuration with every `$secretRef` replaced by the project's secret, all fetched in one database query. " +
			"Resolution order: the database, then (with `env_fallback`, and never for pgsecrets', PostgreSQL's or Terraform's own settings) an environment variable, then the reference's `default`; " +
			"secrets found nowhere fail the read with one error listing each name and its JSON paths. " +
			"The rendered config is stored in Terraform state (marked sensitive): to keep it out of state, use the ephemeral resource `pgsecrets_resolved_config`.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: resolvedProjectDescription,
				Validators:          []validator.String{projectNameRule},
			},
			"config": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: resolvedConfigDescription,
				Validators:          []validator.String{secretRefConfigRule{}},
			},
			"env_fallback": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: resolvedEnvFallbackDescription,
			},
			"env_allow": schema.ListAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: resolvedEnvAllowDescription,
				Validators:          []validator.List{envAllowRule{}},
			},
			"consistent": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: resolvedConsistentDescription,
			},
			"rendered": schema.StringAttribute{
				Computed:            true,
				Sensitive:           true,
				MarkdownDescription: "The config as compact JSON with every reference replaced by its value; object keys keep their order and numbers their digits.",
			},
			"references": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: resolvedReferencesDescription,
			},
			"sources": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: resolvedSourcesDescription,
			},
		},
	}
}

func (d *resolvedConfigDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *resolvedConfigDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m resolvedConfigModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := readyStore(d.data, &resp.Diagnostics)
	if s == nil {
		return
	}
	resp.Diagnostics.Append(m.resolve(ctx, s, "terraform data source pgsecrets_resolved_config")...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// resolvedConfigModel is the data source and the ephemeral resource alike.
type resolvedConfigModel struct {
	Project     types.String `tfsdk:"project"`
	Config      types.String `tfsdk:"config"`
	EnvFallback types.Bool   `tfsdk:"env_fallback"`
	EnvAllow    types.List   `tfsdk:"env_allow"`
	Consistent  types.Bool   `tfsdk:"consistent"`
	Rendered    types.String `tfsdk:"rendered"`
	References  types.List   `tfsdk:"references"`
	Sources     types.Map    `tfsdk:"sources"`
}

// resolve fills the computed attributes from the configured ones.
func (m *resolvedConfigModel) resolve(ctx context.Context, s *store.Store, purpose string) diag.Diagnostics {
	var allow []types.String
	diags := m.EnvAllow.ElementsAs(ctx, &allow, false)
	if diags.HasError() {
		return diags
	}
	project := m.Project.ValueString()
	if m.Consistent.ValueBool() {
		s = s.Consistent()
	}
	res, err := secretref.Resolve(ctx, []byte(m.Config.ValueString()), secretref.Options{
		EnvFallback: m.EnvFallback.ValueBool(),
		EnvAllow:    stringValues(allow),
		Lookup: func(names []string) ([][]byte, error) {
			return s.LookupValues(ctx, project, names, purpose)
		},
	})
	if err != nil {
		addResolveError(&diags, project, err)
		return diags
	}
	m.Rendered = types.StringValue(string(res.Rendered))
	// Built element by element: the framework's reflection costs more than
	// the resolution itself for a config of thousands of references.
	refs := make([]attr.Value, len(res.References))
	sources := make(map[string]attr.Value, len(res.References))
	for i, name := range res.References {
		refs[i] = types.StringValue(name)
		sources[name] = types.StringValue(res.Sources[i])
	}
	var d diag.Diagnostics
	m.References, d = types.ListValue(types.StringType, refs)
	diags.Append(d...)
	m.Sources, d = types.MapValue(types.StringType, sources)
	diags.Append(d...)
	return diags
}

// addResolveError explains a failed resolution. secretref's and store's
// errors name secrets and JSON paths, never values.
func addResolveError(diags *diag.Diagnostics, project string, err error) {
	var (
		syntax    *secretref.SyntaxError
		depth     *secretref.DepthError
		malformed *secretref.MalformedError
		missing   *secretref.MissingError
	)
	switch {
	case errors.As(err, &syntax), errors.As(err, &depth), errors.As(err, &malformed):
		diags.AddAttributeError(path.Root("config"), "Invalid config", err.Error())
	case errors.As(err, &missing):
		how := fmt.Sprintf("Create a secret with a pgsecrets_project_secret resource or `pgsecrets secret add --project %s --name NAME`", project)
		if !missing.EnvFallback && missing.EnvMayHelp() {
			how += "; env_fallback = true lets environment variables of the same names stand in"
		}
		diags.AddAttributeError(path.Root("config"), "Referenced secrets not found", fmt.Sprintf("In project %q: %v.\n\n%s.", project, err, how))
	default:
		addReadError(diags, "Cannot resolve config", fmt.Sprintf("Resolving the secret references of project %q", project), err)
	}
}

// readyStore is the provider's store, or nil with an error diagnostic.
// Terraform reads data sources and opens ephemeral resources only after
// configuring the provider, so nil here means its configuration failed.
func readyStore(data *providerData, diags *diag.Diagnostics) *store.Store {
	if data == nil || data.store == nil {
		diags.AddError("Provider not configured", "The pgsecrets provider has no database connection; fix the errors reported for its provider block.")
		return nil
	}
	return data.store
}

// secretRefConfigRule checks a config's JSON and references at plan time,
// so a malformed reference fails `terraform validate`, not the apply.
type secretRefConfigRule struct{}

func (secretRefConfigRule) Description(context.Context) string {
	return "must be JSON whose $secretRef objects are well formed"
}

func (r secretRefConfigRule) MarkdownDescription(ctx context.Context) string {
	return r.Description(ctx)
}

func (secretRefConfigRule) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := secretref.Parse([]byte(req.ConfigValue.ValueString())); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid config", err.Error())
	}
}

// envAllowRule checks env_allow at plan time with secretref's own check of
// the entries, and refuses it without env_fallback = true, where it would
// silently do nothing.
type envAllowRule struct{}

func (envAllowRule) Description(context.Context) string {
	return "each entry a name or a prefix ending in *, with env_fallback = true"
}

func (r envAllowRule) MarkdownDescription(ctx context.Context) string {
	return r.Description(ctx)
}

func (envAllowRule) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var entries []types.String
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &entries, false)...)
	for _, e := range entries {
		if e.IsUnknown() {
			return
		}
	}
	if err := secretref.ValidateEnvAllow(stringValues(entries)); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid env_allow", err.Error())
		return
	}
	var fallback types.Bool
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("env_fallback"), &fallback)...)
	if len(entries) > 0 && !fallback.IsUnknown() && !fallback.ValueBool() {
		resp.Diagnostics.AddAttributeError(req.Path, "env_allow without env_fallback",
			"env_allow limits the environment fallback, which is off: set env_fallback = true, or remove env_allow.")
	}
}

// stringValues unwraps a list's strings; a null entry becomes "", which
// secretref.ValidateEnvAllow refuses.
func stringValues(list []types.String) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = v.ValueString()
	}
	return out
}
