package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ ephemeral.EphemeralResource              = (*resolvedConfigEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*resolvedConfigEphemeral)(nil)
)

// resolvedConfigEphemeral resolves like the data source of the same name,
// but Terraform keeps the result only in memory for the run: nothing lands
// in the plan or the state.
type resolvedConfigEphemeral struct{ data *providerData }

// NewResolvedConfigEphemeralResource is the pgsecrets_resolved_config
// ephemeral resource.
func NewResolvedConfigEphemeralResource() ephemeral.EphemeralResource {
	return &resolvedConfigEphemeral{}
}

func (e *resolvedConfigEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_resolved_config"
}

func (e *resolvedConfigEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Renders a JSON configuration with every `$secretRef` replaced by the project's secret, like the data source `pgsecrets_resolved_config`, " +
			"but the result is never written to the plan or the state (Terraform 1.10+). Use it where ephemeral values are accepted: " +
			"write-only attributes (e.g. a `value_wo`), provider blocks, other ephemeral resources, `locals` that feed them. " +
			"Secrets found nowhere fail with one error listing each name and its JSON paths.",
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
				MarkdownDescription: "The config as compact JSON with every reference replaced by its value. Ephemeral and sensitive.",
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

func (e *resolvedConfigEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (e *resolvedConfigEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m resolvedConfigModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := readyStore(e.data, &resp.Diagnostics)
	if s == nil {
		return
	}
	resp.Diagnostics.Append(m.resolve(ctx, s, "terraform ephemeral resource pgsecrets_resolved_config")...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
