package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ resource.ResourceWithConfigure   = (*projectKeyResource)(nil)
	_ resource.ResourceWithImportState = (*projectKeyResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*projectKeyResource)(nil)
)

// projectKeyResource is pgsecrets_project_key: the data key of one
// project, seen and rotated from Terraform. The store makes a project's key
// on its first write; this resource adopts it (or makes it), shows its
// metadata, and rotates it on a trigger or a schedule, as aws_kms_key and
// time_rotating do.
type projectKeyResource struct {
	data *providerData
}

// NewProjectKeyResource is the pgsecrets_project_key resource.
func NewProjectKeyResource() resource.Resource { return &projectKeyResource{} }

func (r *projectKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project_key"
}

func (r *projectKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The data key of a project: every secret of the project and its history is encrypted under it, and it is stored only wrapped " +
			"under the first root key (the key material never reaches state, plan or logs). The store makes a project's key on the project's first write; " +
			"this resource adopts that key, or makes it when the project has none yet, and rotates it when `rotate_when_changed` changes or when it is older " +
			"than `rotation_period`. A rotation gives the project a new key and re-encrypts that project's secrets and history under it before the apply " +
			"returns; other projects are not touched. Import with the project name.\n\n" +
			"**Destroying this resource does not destroy the key nor any secret**: it only stops managing the key, unless `shred_on_destroy = true`. " +
			"See docs/rotation.md. A store upgraded with secrets from before project keys refuses this resource until `pgsecrets reencrypt` has moved it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The project name, the form `terraform import` takes.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Project whose key this is: letters, digits, `_`, `.`, `-`. Changing it replaces the resource: the new project's key is adopted, " +
					"and the old project's key is left as it is (shredded, with the old project, when `shred_on_destroy` is `true`).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{projectNameRule},
			},
			"rotate_when_changed": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Arbitrary strings; when any of them changes, the next apply rotates the key in place: a new key, the project's secrets " +
					"and history re-encrypted under it, the old key deleted once nothing uses it. E.g. `{ rotated = \"2026-q4\" }`, or the `id` of a " +
					"`time_rotating` resource. Setting it where it was not set (first time, or after an import), or removing it, records it without rotating.",
			},
			"rotation_period": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Rotate the key once it is older than this: whole days (`90d`), hours or minutes (`2160h`, `90m`). " +
					"A plan made when the key is older shows an update of `kid` (so `terraform plan -detailed-exitcode` exits 2), and its apply rotates as " +
					"`rotate_when_changed` does. Keys are only rotated by an apply: nothing happens between runs.",
				Validators: []validator.String{rotationPeriodRule{}},
			},
			"shred_on_destroy": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "**Danger.** When `true`, destroying this resource crypto-shreds the project: its secrets, their whole history and its keys " +
					"are deleted in one transaction, and nothing of the project can be read again (backups taken earlier stay readable to whoever also holds a root " +
					"key that wrapped the project key; docs/security.md). Defaults to `false`: destroying the resource then leaves the key and every secret in place. " +
					"Set it to `true` and apply before a destroy that should shred.",
			},
			"kid": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Key id of the project's current key, written in the header of every ciphertext made with it; a rotation changes it.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"state": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`primary`: the key encrypts the project's new values. (Rotated-out keys are `retired` and deleted once nothing uses them.)",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"wrapping_kid": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Key id of the root key that wraps this key; a root rotation (`pgsecrets reencrypt`) changes it.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the key was made (RFC 3339, UTC); `rotation_period` counts from it.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *projectKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans a rotation: kid and what goes with it become unknown,
// which Terraform shows as an update, and Update rotates exactly when the
// plan says so. A store not yet on project keys is refused at plan time.
func (r *projectKeyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan projectKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if req.State.Raw.IsNull() {
		// Metadata only, so the planner role plans a create too.
		_, on, err := r.data.store.ProjectKeysSince(ctx)
		if err == nil && !on {
			err = &store.LegacyStoreError{What: fmt.Sprintf("pgsecrets_project_key for project %q", plan.Project.ValueString())}
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot manage project key", err.Error())
		}
		return
	}
	var state projectKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	reason := rotationReason(state, plan, time.Now())
	if reason == "" {
		return
	}
	tflog.Info(ctx, "planning a project key rotation", map[string]any{"project": plan.Project.ValueString(), "reason": reason})
	for _, attr := range []string{"kid", "created_at", "wrapping_kid"} {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attr), types.StringUnknown())...)
	}
}

// rotationReason says why the plan from state to plan rotates the key, ""
// when it does not.
func rotationReason(state, plan projectKeyModel, now time.Time) string {
	if plan.RotateWhenChanged.IsUnknown() {
		return "rotate_when_changed is known only at apply"
	}
	// Only a change between two set values rotates: setting the trigger on
	// an existing or imported key, or removing it, must not.
	if !state.RotateWhenChanged.IsNull() && !plan.RotateWhenChanged.IsNull() && !state.RotateWhenChanged.Equal(plan.RotateWhenChanged) {
		return "rotate_when_changed changed"
	}
	if plan.RotationPeriod.IsNull() || plan.RotationPeriod.IsUnknown() {
		return ""
	}
	period, ok := audit.ParseDuration(strings.TrimSpace(plan.RotationPeriod.ValueString()))
	created, err := time.Parse(time.RFC3339Nano, state.CreatedAt.ValueString())
	if !ok || period <= 0 || err != nil {
		return ""
	}
	if now.Sub(created) >= period {
		return "older than rotation_period"
	}
	return ""
}

func (r *projectKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Creating a pgsecrets_project_key") {
		return
	}
	var plan projectKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	key, created, err := r.data.store.EnsureProjectKey(ctx, plan.Project.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot create project key", err.Error())
		return
	}
	tflog.Info(ctx, "project key", map[string]any{"project": key.Project, "kid": key.KID, "created": created})
	plan.set(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *projectKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state projectKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Metadata only: the planner role, without root keys, reads it too.
	key, err := r.data.store.GetProjectKey(ctx, state.Project.ValueString())
	if errors.Is(err, store.ErrNotFound) {
		// Shredded outside Terraform: a new apply makes the project a key.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read project key", err.Error())
		return
	}
	// A rotation or root rotation made outside Terraform shows here.
	state.set(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update rotates when the plan says so (kid unknown, see ModifyPlan); a
// change of the other arguments is only recorded.
func (r *projectKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state projectKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.KID.IsUnknown() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	if !r.data.requireRootKeys(&resp.Diagnostics, "Rotating a pgsecrets_project_key") {
		return
	}
	project := plan.Project.ValueString()
	key, retired, err := r.data.store.RotateProjectKey(ctx, project)
	if err != nil {
		resp.Diagnostics.AddError("Cannot rotate project key", fmt.Sprintf("Rotating the key of project %q: %v", project, err))
		return
	}
	plan.set(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	// The rotation is done when the apply returns: the project's secrets
	// move to the new key now, not at some later reencrypt.
	sum, err := reencrypt.Run(ctx, r.data.store, reencrypt.Options{Project: project})
	if err != nil {
		resp.Diagnostics.AddError("Project key rotated, secrets not all re-encrypted",
			fmt.Sprintf("Project %q has a new key %s, but re-encrypting its secrets under it stopped: %v. "+
				"Values stay readable under the retired key %s; run `pgsecrets reencrypt --project %s` to finish.", project, key.KID, err, retired, project))
		return
	}
	tflog.Info(ctx, "project key rotated", map[string]any{
		"project": project, "kid": key.KID, "retired_kid": retired, "reencrypted": sum.Reencrypted, "keys_deleted": strings.Join(sum.ProjectKeysDeleted, ","),
	})
	// The run may have rewrapped the key under the first root key.
	if key, err = r.data.store.GetProjectKey(ctx, project); err == nil {
		plan.set(key)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// Delete forgets the key, unless shred_on_destroy says to shred the
// project: destroying a configuration must never destroy secrets by
// accident.
func (r *projectKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state projectKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !state.ShredOnDestroy.ValueBool() {
		return
	}
	if !r.data.requireRootKeys(&resp.Diagnostics, "Shredding a project (pgsecrets_project_key with shred_on_destroy)") {
		return
	}
	res, err := r.data.store.ShredProject(ctx, state.Project.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot shred project", fmt.Sprintf("Shredding project %q: %v", state.Project.ValueString(), err))
		return
	}
	tflog.Warn(ctx, "project shredded", map[string]any{"project": res.Project, "secrets": res.Secrets, "versions": res.Versions, "kids": strings.Join(res.KIDs, ",")})
}

func (r *projectKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := store.ValidateProject(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q: expected a project name: %v", req.ID, err))
		return
	}
	// Read would find no key in a store not yet moved and report a missing
	// object; say why instead.
	if _, on, err := r.data.store.ProjectKeysSince(ctx); err != nil || !on {
		if err == nil {
			err = &store.LegacyStoreError{What: fmt.Sprintf("importing the key of project %q", req.ID)}
		}
		resp.Diagnostics.AddError("Cannot import project key", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("shred_on_destroy"), false)...)
}

// projectKeyModel is the resource's state, plan and config.
type projectKeyModel struct {
	ID                types.String `tfsdk:"id"`
	Project           types.String `tfsdk:"project"`
	RotateWhenChanged types.Map    `tfsdk:"rotate_when_changed"`
	RotationPeriod    types.String `tfsdk:"rotation_period"`
	ShredOnDestroy    types.Bool   `tfsdk:"shred_on_destroy"`
	KID               types.String `tfsdk:"kid"`
	State             types.String `tfsdk:"state"`
	WrappingKID       types.String `tfsdk:"wrapping_kid"`
	CreatedAt         types.String `tfsdk:"created_at"`
}

func (m *projectKeyModel) set(k store.ProjectKey) {
	m.ID = types.StringValue(k.Project)
	m.Project = types.StringValue(k.Project)
	m.KID = types.StringValue(k.KID)
	m.State = types.StringValue(k.State)
	m.WrappingKID = types.StringValue(k.WrappingKID)
	m.CreatedAt = timeValue(k.CreatedAt)
}

// rotationPeriodRule accepts a positive duration in the CLI's syntax
// (90d, 2160h), read by the same parser as `reencrypt --rotate-older-than`.
type rotationPeriodRule struct{}

const rotationPeriodRuleDescription = "must be a positive duration: whole days (90d), hours or minutes (2160h, 90m)"

func (rotationPeriodRule) Description(context.Context) string { return rotationPeriodRuleDescription }
func (rotationPeriodRule) MarkdownDescription(context.Context) string {
	return rotationPeriodRuleDescription
}

func (rotationPeriodRule) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, ok := audit.ParseDuration(strings.TrimSpace(req.ConfigValue.ValueString())); !ok || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid rotation_period",
			fmt.Sprintf("rotation_period %q %s", req.ConfigValue.ValueString(), rotationPeriodRuleDescription))
	}
}
