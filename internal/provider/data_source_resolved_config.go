package provider

import (
	"context"
	"errors"
	"fmt"

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
		"in the environment of the process running Terraform (before any `default`). Defaults to `false`, so an ambient variable never silently stands in for a forgotten secret."
	resolvedReferencesDescription = "Names of the secrets the config references, sorted, without repeats."
	resolvedSourcesDescription    = "Where each referenced name's value came from: `database`, `environment` or `default`."
)

func (d *resolvedConfigDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Renders a JSON configuration with every `$secretRef` replaced by the project's secret, all fetched in one database query. " +
			"Resolution order: the database, then (with `env_fallback`) an environment variable, then the reference's `default`; " +
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
	Rendered    types.String `tfsdk:"rendered"`
	References  types.List   `tfsdk:"references"`
	Sources     types.Map    `tfsdk:"sources"`
}

// resolve fills the computed attributes from the configured ones.
func (m *resolvedConfigModel) resolve(ctx context.Context, s *store.Store, purpose string) diag.Diagnostics {
	var diags diag.Diagnostics
	project := m.Project.ValueString()
	res, err := secretref.Resolve(ctx, []byte(m.Config.ValueString()), secretref.Options{
		EnvFallback: m.EnvFallback.ValueBool(),
		Lookup: func(names []string) (map[string][]byte, error) {
			secrets, err := s.GetSecrets(ctx, project, names, purpose)
			if err != nil {
				return nil, err
			}
			values := make(map[string][]byte, len(secrets))
			for name, sec := range secrets {
				values[name] = sec.Value
			}
			return values, nil
		},
	})
	if err != nil {
		addResolveError(&diags, project, err)
		return diags
	}
	m.Rendered = types.StringValue(string(res.Rendered))
	m.References, diags = types.ListValueFrom(ctx, types.StringType, res.References)
	sources, d := types.MapValueFrom(ctx, types.StringType, res.Sources)
	diags.Append(d...)
	m.Sources = sources
	return diags
}

// addResolveError explains a failed resolution. secretref's and store's
// errors name secrets and JSON paths, never values.
func addResolveError(diags *diag.Diagnostics, project string, err error) {
	var (
		syntax    *secretref.SyntaxError
		malformed *secretref.MalformedError
		missing   *secretref.MissingError
	)
	switch {
	case errors.As(err, &syntax), errors.As(err, &malformed):
		diags.AddAttributeError(path.Root("config"), "Invalid config", err.Error())
	case errors.As(err, &missing):
		how := fmt.Sprintf("Create a secret with a pgsecrets_project_secret resource or `pgsecrets secret add --project %s --name NAME`", project)
		if !missing.EnvFallback {
			how += "; env_fallback = true lets environment variables of the same names stand in"
		}
		diags.AddAttributeError(path.Root("config"), "Referenced secrets not found", fmt.Sprintf("In project %q: %v.\n\n%s.", project, err, how))
	default:
		diags.AddError("Cannot resolve config", fmt.Sprintf("Resolving the secret references of project %q: %v", project, err))
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
