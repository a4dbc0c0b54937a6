package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ resource.ResourceWithConfigure        = (*modelDefaultsResource)(nil)
	_ resource.ResourceWithImportState      = (*modelDefaultsResource)(nil)
	_ resource.ResourceWithConfigValidators = (*modelDefaultsResource)(nil)
	_ resource.ResourceWithMoveState        = (*modelDefaultsResource)(nil)
)

// modelDefaultsResource is pgsecrets_model_defaults: the AI provider and
// model a project uses for each use case.
type modelDefaultsResource struct {
	data *providerData
	// earlierName serves the resource as pgsecrets_provider_defaults, its
	// name before "model defaults" kept the AI side's word apart from the
	// Terraform provider's.
	earlierName bool
}

// NewModelDefaultsResource is the pgsecrets_model_defaults resource.
func NewModelDefaultsResource() resource.Resource { return &modelDefaultsResource{} }

// NewProviderDefaultsResource is pgsecrets_model_defaults under its earlier
// name, deprecated: a `moved` block takes its state to the new name.
func NewProviderDefaultsResource() resource.Resource {
	return &modelDefaultsResource{earlierName: true}
}

const earlierModelDefaultsName = "_provider_defaults"

func (r *modelDefaultsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model_defaults"
	if r.earlierName {
		resp.TypeName = req.ProviderTypeName + earlierModelDefaultsName
	}
}

// MoveState takes the state of a pgsecrets_provider_defaults resource, the
// same schema under the earlier name, to pgsecrets_model_defaults:
//
//	moved {
//	  from = pgsecrets_provider_defaults.app
//	  to   = pgsecrets_model_defaults.app
//	}
func (r *modelDefaultsResource) MoveState(ctx context.Context) []resource.StateMover {
	var earlier resource.SchemaResponse
	(&modelDefaultsResource{earlierName: true}).Schema(ctx, resource.SchemaRequest{}, &earlier)
	return []resource.StateMover{{
		SourceSchema: &earlier.Schema,
		StateMover: func(ctx context.Context, req resource.MoveStateRequest, resp *resource.MoveStateResponse) {
			if !strings.HasSuffix(req.SourceTypeName, earlierModelDefaultsName) || req.SourceState == nil {
				return // not ours: another mover, or none, takes it
			}
			var m modelDefaultsModel
			resp.Diagnostics.Append(req.SourceState.Get(ctx, &m)...)
			if !resp.Diagnostics.HasError() {
				resp.Diagnostics.Append(resp.TargetState.Set(ctx, &m)...)
			}
		},
	}}
}

func (r *modelDefaultsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
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
			"One resource per project holds all its defaults; use cases left out have none. Read them back with `pgsecrets model-defaults get --project P` (`--output json` for programs).",
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
	if r.earlierName {
		resp.Schema.DeprecationMessage = "pgsecrets_provider_defaults is now pgsecrets_model_defaults, which keeps the AI providers' word apart from the Terraform provider's: " +
			"rename the resource with a moved block (from = pgsecrets_provider_defaults.NAME, to = pgsecrets_model_defaults.NAME); nothing is written again."
		resp.Schema.MarkdownDescription = "The earlier name of `pgsecrets_model_defaults`, the same resource: move it with a `moved` block."
	}
}

func (r *modelDefaultsResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.AtLeastOneOf(path.MatchRoot("chat"), path.MatchRoot("code"), path.MatchRoot("summary")),
	}
}

func (r *modelDefaultsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *modelDefaultsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Creating a pgsecrets_provider_defaults") {
		return
	}
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics)
}

func (r *modelDefaultsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Updating a pgsecrets_provider_defaults") {
		return
	}
	r.write(ctx, req.Plan.Get, &resp.State, &resp.Diagnostics)
}

// write replaces the project's defaults with the plan's, in one
// transaction.
func (r *modelDefaultsResource) write(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics, state stateSetter, diags *diag.Diagnostics) {
	var plan modelDefaultsModel
	diags.Append(getPlan(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	project := plan.Project.ValueString()
	if err := r.data.store.SetModelDefaults(ctx, project, plan.defaults()); err != nil {
		diags.AddError("Cannot set model defaults", fmt.Sprintf("Setting the defaults of project %q: %v", project, err))
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

func (r *modelDefaultsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state modelDefaultsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project := state.Project.ValueString()
	defs, err := r.data.store.GetModelDefaults(ctx, project)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read model defaults", err.Error())
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

func (r *modelDefaultsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Destroying a pgsecrets_provider_defaults") {
		return
	}
	var state modelDefaultsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.store.SetModelDefaults(ctx, state.Project.ValueString(), nil); err != nil {
		resp.Diagnostics.AddError("Cannot remove model defaults", fmt.Sprintf("Removing the defaults of project %q: %v", state.Project.ValueString(), err))
	}
}

func (r *modelDefaultsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
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
func (r *modelDefaultsResource) missingAPIKeyWarnings(ctx context.Context, plan *modelDefaultsModel) diag.Diagnostics {
	var diags diag.Diagnostics
	project := plan.Project.ValueString()
	checked := map[string]bool{}
	for _, uc := range plan.useCases() {
		if uc.model == nil {
			continue
		}
		provider := uc.model.Provider.ValueString()
		secret, ok := catalog.APIKeySecretName(provider)
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

// modelDefaultsModel is the resource's state, plan and config.
type modelDefaultsModel struct {
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
func (m *modelDefaultsModel) useCases() []namedUseCase {
	return []namedUseCase{{"chat", m.Chat}, {"code", m.Code}, {"summary", m.Summary}}
}

func (m *modelDefaultsModel) defaults() []store.ModelDefault {
	var out []store.ModelDefault
	for _, uc := range m.useCases() {
		if uc.model != nil {
			out = append(out, store.ModelDefault{UseCase: uc.name, Provider: uc.model.Provider.ValueString(), Model: uc.model.Model.ValueString()})
		}
	}
	return out
}

func providerDefaultsFrom(project string, defs []store.ModelDefault) modelDefaultsModel {
	m := modelDefaultsModel{ID: types.StringValue(project), Project: types.StringValue(project)}
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
