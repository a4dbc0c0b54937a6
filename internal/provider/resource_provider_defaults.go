package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ resource.ResourceWithConfigure        = (*providerDefaultsResource)(nil)
	_ resource.ResourceWithImportState      = (*providerDefaultsResource)(nil)
	_ resource.ResourceWithConfigValidators = (*providerDefaultsResource)(nil)
)

// providerDefaultsResource is pgsecrets_provider_defaults: the AI provider
// and model a project uses for each use case.
type providerDefaultsResource struct {
	data *providerData
}

// NewProviderDefaultsResource is the pgsecrets_provider_defaults resource.
func NewProviderDefaultsResource() resource.Resource { return &providerDefaultsResource{} }

func (r *providerDefaultsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provider_defaults"
}

func (r *providerDefaultsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	useCase := func(what string) schema.SingleNestedAttribute {
		return schema.SingleNestedAttribute{
			Optional:            true,
			MarkdownDescription: "Provider and model for " + what + ". Omit it to leave the use case without a default.",
			Attributes: map[string]schema.Attribute{
				"provider": schema.StringAttribute{
					Required: true,
					MarkdownDescription: "AI provider, e.g. `anthropic`, `openai`, `google`, `mistral`. " +
						"When the defaults are applied, a warning is shown if the project still lacks the provider's usual API key secret (e.g. `ANTHROPIC_API_KEY`); " +
						"a `pgsecrets_project_secret` that creates it in the same configuration belongs in this resource's `depends_on`, so the secret exists first.",
					Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
				},
				"model": schema.StringAttribute{
					Required:            true,
					MarkdownDescription: "Model name as the provider's API spells it, e.g. `claude-sonnet-4-5` or `gpt-4.1`.",
					Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
				},
			},
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The AI provider and model a project uses by default for chat, code and summaries. " +
			"One resource per project holds all its defaults; use cases left out have none. Read them back with `pgsecrets defaults get --project P` (`--output json` for programs).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The project, the form `terraform import` takes.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Project the defaults belong to. Changing it replaces the resource.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{projectNameRule},
			},
			"chat":    useCase("conversational use"),
			"code":    useCase("code generation and review"),
			"summary": useCase("summarisation"),
		},
	}
}

func (r *providerDefaultsResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.AtLeastOneOf(path.MatchRoot("chat"), path.MatchRoot("code"), path.MatchRoot("summary")),
	}
}

func (r *providerDefaultsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *providerDefaultsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Creating a pgsecrets_provider_defaults") {
		return
	}
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics)
}

func (r *providerDefaultsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Updating a pgsecrets_provider_defaults") {
		return
	}
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics)
}

// write replaces the project's defaults with the plan's, in one
// transaction.
func (r *providerDefaultsResource) write(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics, state stateSetter, diags *diag.Diagnostics) {
	var plan providerDefaultsModel
	diags.Append(getPlan(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	project := plan.Project.ValueString()
	if err := r.data.store.SetProviderDefaults(ctx, project, plan.defaults()); err != nil {
		diags.AddError("Cannot set provider defaults", fmt.Sprintf("Setting the defaults of project %q: %v", project, err))
		return
	}
	plan.ID = types.StringValue(project)
	diags.Append(state.Set(ctx, &plan)...)
	if !diags.HasError() {
		diags.Append(r.missingAPIKeyWarnings(ctx, &plan)...)
	}
}

// stateSetter is tfsdk.State's Set, for write.
type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

func (r *providerDefaultsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state providerDefaultsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project := state.Project.ValueString()
	defs, err := r.data.store.GetProviderDefaults(ctx, project)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read provider defaults", err.Error())
		return
	}
	if len(defs) == 0 {
		// Removed outside Terraform: the next plan sets them again.
		resp.State.RemoveResource(ctx)
		return
	}
	state = providerDefaultsFrom(project, defs)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *providerDefaultsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Destroying a pgsecrets_provider_defaults") {
		return
	}
	var state providerDefaultsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.store.SetProviderDefaults(ctx, state.Project.ValueString(), nil); err != nil {
		resp.Diagnostics.AddError("Cannot remove provider defaults", fmt.Sprintf("Removing the defaults of project %q: %v", state.Project.ValueString(), err))
	}
}

func (r *providerDefaultsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := store.ValidateProject(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q: expected a project name: %v", req.ID, err))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("project"), req, resp)
}

// missingAPIKeyWarnings warns about each use case whose provider's usual
// API key secret the project lacks: the applications reading the defaults
// would fail to call it. It runs when the defaults are written (Create,
// Update), not at plan time: a plan cannot see whether the configuration
// creates the secret, and would warn on every fresh plan of a
// configuration that does. With the secret's resource in depends_on, the
// secret exists by the time this runs, so only a secret that is really
// missing is warned about, once, by the apply that set the defaults.
func (r *providerDefaultsResource) missingAPIKeyWarnings(ctx context.Context, plan *providerDefaultsModel) diag.Diagnostics {
	var diags diag.Diagnostics
	project := plan.Project.ValueString()
	checked := map[string]bool{}
	for _, uc := range plan.useCases() {
		if uc.model == nil {
			continue
		}
		provider := uc.model.Provider.ValueString()
		secret, ok := store.APIKeySecretName(provider)
		if !ok || checked[secret] {
			continue
		}
		checked[secret] = true
		_, err := r.data.store.GetSecretMeta(ctx, project, secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			diags.AddAttributeWarning(path.Root(uc.name).AtName("provider"), "Provider API key secret missing",
				fmt.Sprintf("Project %q has no secret %s, the API key provider %q usually needs, so applications using these defaults may fail to call it. "+
					"Add it with a pgsecrets_project_secret resource or `pgsecrets secret add --project %s --name %s`. "+
					"If this configuration already creates it, add that pgsecrets_project_secret to this resource's depends_on, "+
					"so the secret exists before the defaults are set.",
					project, secret, provider, project, secret))
		case err != nil:
			diags.AddWarning("Cannot check provider API key secret", fmt.Sprintf("Looking up %s in project %q: %v", secret, project, err))
		}
	}
	return diags
}

// providerDefaultsModel is the resource's state, plan and config.
type providerDefaultsModel struct {
	ID      types.String  `tfsdk:"id"`
	Project types.String  `tfsdk:"project"`
	Chat    *useCaseModel `tfsdk:"chat"`
	Code    *useCaseModel `tfsdk:"code"`
	Summary *useCaseModel `tfsdk:"summary"`
}

// useCaseModel is one use case's provider and model.
type useCaseModel struct {
	Provider types.String `tfsdk:"provider"`
	Model    types.String `tfsdk:"model"`
}

type namedUseCase struct {
	name  string
	model *useCaseModel
}

// useCases pairs each use case of store.UseCases with its attribute.
func (m *providerDefaultsModel) useCases() []namedUseCase {
	return []namedUseCase{{"chat", m.Chat}, {"code", m.Code}, {"summary", m.Summary}}
}

func (m *providerDefaultsModel) defaults() []store.ProviderDefault {
	var out []store.ProviderDefault
	for _, uc := range m.useCases() {
		if uc.model != nil {
			out = append(out, store.ProviderDefault{UseCase: uc.name, Provider: uc.model.Provider.ValueString(), Model: uc.model.Model.ValueString()})
		}
	}
	return out
}

func providerDefaultsFrom(project string, defs []store.ProviderDefault) providerDefaultsModel {
	m := providerDefaultsModel{ID: types.StringValue(project), Project: types.StringValue(project)}
	for _, d := range defs {
		uc := &useCaseModel{Provider: types.StringValue(d.Provider), Model: types.StringValue(d.Model)}
		switch d.UseCase {
		case "chat":
			m.Chat = uc
		case "code":
			m.Code = uc
		case "summary":
			m.Summary = uc
		}
	}
	return m
}
