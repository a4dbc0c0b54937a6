package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ resource.ResourceWithConfigure      = (*projectSecretResource)(nil)
	_ resource.ResourceWithImportState    = (*projectSecretResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*projectSecretResource)(nil)
	_ resource.ResourceWithValidateConfig = (*projectSecretResource)(nil)
)

// appliedRevisionKey names the private state entry holding the revision
// Terraform last wrote. For value_wo, where state holds no value to
// compare, a different revision in the database is how drift shows.
const appliedRevisionKey = "applied_revision"

// sealedKey names the private state entry holding the digest of the
// ciphertext Terraform last saw. The same revision with another ciphertext
// is either a re-encryption or an older ciphertext copied back in the
// database; decrypting tells them apart (the binding refuses the latter).
const sealedKey = "sealed"

// refreshPurpose is the purpose recorded in the audit event of a refresh
// that decrypts a value.
const refreshPurpose = "terraform refresh"

// projectSecretResource is pgsecrets_project_secret: one secret of a
// project, encrypted under the primary key.
type projectSecretResource struct {
	data *providerData
}

// NewProjectSecretResource is the pgsecrets_project_secret resource.
func NewProjectSecretResource() resource.Resource { return &projectSecretResource{} }

func (r *projectSecretResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project_secret"
}

func (r *projectSecretResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A secret of a project, stored encrypted (JWE) under the current primary key. " +
			"Set the value with `value` (kept, marked sensitive, in state) or, with Terraform 1.11 and later, with the write-only `value_wo` " +
			"(never stored in state or plan) and `value_wo_version`. " +
			"A value changed or a secret deleted outside Terraform shows up in the next plan, for both. " +
			"Import (`project/name`) never reads the value into state, so the apply that follows an import writes the configured value. " +
			"When the configuration also manages `pgsecrets_encryption_key` resources, give secrets `depends_on` on them, so that destroy removes secrets before the keys that encrypt them.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`project/name`, the form `terraform import` takes.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Project the secret belongs to: letters, digits, `_`, `.`, `-`. Changing it replaces the secret.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{projectNameRule},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Secret name, unique in the project, e.g. `OPENAI_API_KEY`: letters, digits, `_`, `.`, `-`. " +
					"Changing it replaces the secret.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{secretNameRule},
			},
			"value": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "The secret value. It is stored in Terraform state (marked sensitive); to keep it out of state use `value_wo`. " +
					"Exactly one of `value` and `value_wo` must be set. A change made outside Terraform shows as a change of this attribute.",
			},
			"value_wo": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "The secret value, write-only (Terraform 1.11+): sent to the provider on apply and never stored in state or plan. " +
					"Requires `value_wo_version`; Terraform writes the value when the secret is created, when `value_wo_version` changes, " +
					"and when the secret was rewritten outside Terraform.",
			},
			"value_wo_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Version of `value_wo`; since Terraform cannot see a write-only value, change this number (e.g. increment it) " +
					"to have a new `value_wo` written. Required with `value_wo`.",
			},
			"description": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: "What the secret is for; shown by `pgsecrets secret list`.",
			},
			"category": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Free-form grouping, e.g. `ai`, `payments`, `oauth`; recorded in audit events. " +
					"When unset, a well-known name gets its catalog category (see `pgsecrets catalog`, e.g. `ai` for `ANTHROPIC_API_KEY`), any other name none.",
				PlanModifiers: []planmodifier.String{catalogCategoryDefault{}},
			},
			"validate": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				MarkdownDescription: "Refuse a value whose shape does not fit a well-known secret name (see `pgsecrets catalog`); set false to store it anyway.",
			},
			"kid": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Key id of the key the value is encrypted under: the primary `pgsecrets_encryption_key` when it was written, else the first root key. " +
					"`pgsecrets reencrypt` moves it to the current primary without any plan change.",
			},
			"revision": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "Revision of the secret, incremented by every write (Terraform, the CLI, any tool); `pgsecrets reencrypt` keeps it, " +
					"since the value does not change. Updates are compare-and-swap on it, so a concurrent change is reported instead of overwritten.",
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the secret was created (RFC 3339, UTC).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"updated_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the secret was last written (RFC 3339, UTC).",
			},
		},
	}
}

// ValidateConfig requires exactly one of value and value_wo, and
// value_wo_version with value_wo. It reads the raw configuration instead of
// using the framework-validators' ExactlyOneOf and RequiredTogether, which
// resolve path expressions through the schema on every call: for a plan of
// 1,000 secrets that cost more than refreshing them from PostgreSQL.
func (r *projectSecretResource) ValidateConfig(_ context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var attrs map[string]tftypes.Value
	if err := req.Config.Raw.As(&attrs); err != nil || attrs == nil {
		return
	}
	// An unknown value counts as set: it will be, after apply.
	value, wo, version := !attrs["value"].IsNull(), !attrs["value_wo"].IsNull(), !attrs["value_wo_version"].IsNull()
	switch {
	case value && wo:
		resp.Diagnostics.AddAttributeError(path.Root("value_wo"), "Conflicting secret values",
			"Set either value (kept in state, marked sensitive) or value_wo with value_wo_version (never stored in state), not both.")
	case !value && !wo:
		resp.Diagnostics.AddAttributeError(path.Root("value"), "Missing secret value",
			"Set value, or value_wo with value_wo_version (Terraform 1.11+), to give the secret its value.")
	case wo && !version:
		resp.Diagnostics.AddAttributeError(path.Root("value_wo_version"), "Missing value_wo_version",
			"value_wo needs value_wo_version: Terraform cannot see a write-only value, so it writes value_wo when the secret is created and whenever value_wo_version changes. Start with value_wo_version = 1.")
	case version && !wo:
		resp.Diagnostics.AddAttributeError(path.Root("value_wo_version"), "value_wo_version without value_wo",
			"value_wo_version only versions value_wo; remove it, or move the value from value to value_wo.")
	}
	validateShape(attrs, &resp.Diagnostics)
}

// validateShape refuses a value that does not fit the catalog's shape for a
// well-known name, unless validate = false. Terraform passes a write-only
// value to validation when it is known, so value_wo is checked too. The
// diagnostic names the expected shape, never the value.
func validateShape(attrs map[string]tftypes.Value, diags *diag.Diagnostics) {
	if v := attrs["validate"]; !v.IsNull() {
		var on bool
		// Unknown until apply: nothing to decide on yet.
		if !v.IsKnown() || v.As(&on) != nil || !on {
			return
		}
	}
	var name string
	if n := attrs["name"]; !n.IsKnown() || n.IsNull() || n.As(&name) != nil {
		return
	}
	if _, ok := catalog.Lookup(name); !ok {
		return
	}
	for _, attr := range []string{"value", "value_wo"} {
		var value string
		if v := attrs[attr]; !v.IsKnown() || v.IsNull() || v.As(&value) != nil {
			continue
		}
		if err := catalog.Validate(name, value); err != nil {
			diags.AddAttributeError(path.Root(attr), "Value does not fit "+name,
				err.Error()+"; set validate = false to store it anyway")
		}
	}
}

func (r *projectSecretResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *projectSecretResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config projectSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	meta, err := r.data.store.PutSecret(ctx, plan.putInput(config, store.MustNotExist))
	if err != nil {
		var conflict *store.ConflictError
		if errors.As(err, &conflict) {
			resp.Diagnostics.AddError("Secret already exists",
				fmt.Sprintf("%v. To manage it with Terraform, import it: an `import` block with id = %q, or `terraform import <address> %s`.",
					err, plan.secretID(), plan.secretID()))
			return
		}
		resp.Diagnostics.AddError("Cannot create secret", fmt.Sprintf("Creating %s: %v", plan.secretID(), err))
		return
	}
	plan.setMeta(meta)
	resp.Diagnostics.Append(setAppliedRevision(ctx, resp.Private, plan, meta.Revision)...)
	resp.Diagnostics.Append(setPrivateString(ctx, resp.Private, sealedKey, meta.Sealed)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read refreshes the secret from the database. It compares revisions
// rather than values: every write increments the revision, so an unchanged
// revision proves an unchanged value, and the common refresh costs one
// indexed metadata read with no decryption and no audit event. Only when
// the revision moved, and state holds a value to compare (`value`), is the
// value decrypted (an audited read) so the plan can show the change.
func (r *projectSecretResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state projectSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	meta, err := r.data.store.GetSecretMeta(ctx, state.Project.ValueString(), state.Name.ValueString())
	if errors.Is(err, store.ErrNotFound) {
		// Deleted outside Terraform: the next plan creates it again.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read secret", fmt.Sprintf("Refreshing %s: %v", state.secretID(), err))
		return
	}
	refreshed := state
	sealed, diags := privateString(ctx, req.Private, sealedKey)
	resp.Diagnostics.Append(diags...)
	valueMoved := !state.Value.IsNull() && meta.Revision != state.Revision.ValueInt64()
	replaced := sealed != "" && meta.Revision == state.Revision.ValueInt64() && meta.Sealed != sealed
	if valueMoved || replaced {
		sec, err := r.data.store.GetSecret(ctx, meta.Project, meta.Name, refreshPurpose)
		if errors.Is(err, store.ErrNotFound) {
			resp.State.RemoveResource(ctx)
			return
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot read secret", fmt.Sprintf("Refreshing the value of %s: %v", state.secretID(), err))
			return
		}
		if sec.Unbound {
			resp.Diagnostics.AddWarning("Secret ciphertext carries no binding",
				fmt.Sprintf("The ciphertext of %s names no row, so it would open in any row: it was written by another tool, or planted by someone who can write to the database. Check its value, then run `pgsecrets reencrypt --bind-unbound`; set strict_bindings to refuse such ciphertexts.", state.secretID()))
		}
		if valueMoved {
			refreshed.Value = types.StringValue(string(sec.Value))
		}
		meta = sec.SecretMeta
	}
	if meta.Sealed != sealed {
		resp.Diagnostics.Append(setPrivateString(ctx, resp.Private, sealedKey, meta.Sealed)...)
	}
	refreshed.setMeta(meta)
	if refreshed.Validate.IsNull() {
		// Import, and state written before validate existed, leave it
		// null; its default keeps the next plan empty.
		refreshed.Validate = types.BoolValue(true)
	}
	// resp.State starts as the prior state; leaving it alone when nothing
	// changed spares the usual refresh a costly conversion.
	if refreshed != state {
		resp.Diagnostics.Append(resp.State.Set(ctx, &refreshed)...)
	}
}

// ModifyPlan plans a rewrite of a write-only value that was changed outside
// Terraform: the revision refreshed from the database is not the one
// Terraform applied.
func (r *projectSecretResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	// Only value_wo secrets keep an applied revision; checking it first
	// keeps this free for the others.
	applied, ok, diags := appliedRevision(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if !ok {
		return
	}
	var revision, version types.Int64
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("revision"), &revision)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("value_wo_version"), &version)...)
	if resp.Diagnostics.HasError() || version.IsNull() || revision.ValueInt64() == applied {
		return
	}
	var project, name types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("project"), &project)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("name"), &name)...)
	resp.Diagnostics.AddWarning("Secret changed outside Terraform",
		fmt.Sprintf("%s/%s is at revision %d, but Terraform wrote revision %d: someone rewrote it (CLI, SQL, another tool). "+
			"This plan writes value_wo again. To keep the other value instead, put it in value_wo.",
			project.ValueString(), name.ValueString(), revision.ValueInt64(), applied))
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("revision"), types.Int64Unknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("kid"), types.StringUnknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("updated_at"), types.StringUnknown())...)
}

func (r *projectSecretResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, config, state projectSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Toggling validate alone changes nothing stored: no write, no new
	// revision, no audit event. A value_wo rewritten outside Terraform
	// still is written again.
	if plan.storesSameAs(state) {
		applied, ok, diags := appliedRevision(ctx, req.Private)
		resp.Diagnostics.Append(diags...)
		if !ok || applied == state.Revision.ValueInt64() {
			kept := state
			kept.Validate = plan.Validate
			resp.Diagnostics.Append(resp.State.Set(ctx, &kept)...)
			return
		}
	}
	// Compare-and-swap on the revision refreshed at plan time: a write
	// made since then is reported, never silently overwritten.
	meta, err := r.data.store.PutSecret(ctx, plan.putInput(config, state.Revision.ValueInt64()))
	if err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			resp.Diagnostics.AddError("Secret changed since the plan",
				fmt.Sprintf("%v. Nothing was written; run `terraform apply` again to plan against the current secret.", err))
		case errors.Is(err, store.ErrNotFound):
			resp.Diagnostics.AddError("Secret deleted since the plan",
				fmt.Sprintf("%s was deleted outside Terraform after the plan; run `terraform apply` again to create it.", state.secretID()))
		default:
			resp.Diagnostics.AddError("Cannot update secret", fmt.Sprintf("Writing %s: %v", plan.secretID(), err))
		}
		return
	}
	plan.setMeta(meta)
	resp.Diagnostics.Append(setAppliedRevision(ctx, resp.Private, plan, meta.Revision)...)
	resp.Diagnostics.Append(setPrivateString(ctx, resp.Private, sealedKey, meta.Sealed)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *projectSecretResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state projectSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Not compare-and-swap: destroying the resource means the secret must
	// go whatever was written meanwhile, and `terraform destroy
	// -refresh=false` would otherwise fail on any out-of-band write.
	err := r.data.store.DeleteSecret(ctx, state.Project.ValueString(), state.Name.ValueString(), store.AnyRevision)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddError("Cannot delete secret", fmt.Sprintf("Deleting %s: %v", state.secretID(), err))
	}
}

// ImportState takes `project/name`. The value is not read into state here:
// with `value_wo` it must never be there, and with `value` the first plan
// after import writes the configured value.
func (r *projectSecretResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := splitImportID(req.ID, "project/name, e.g. myapp/OPENAI_API_KEY", 2)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), parts[1])...)
}

// projectSecretModel is the resource's state, plan and config.
type projectSecretModel struct {
	ID             types.String `tfsdk:"id"`
	Project        types.String `tfsdk:"project"`
	Name           types.String `tfsdk:"name"`
	Value          types.String `tfsdk:"value"`
	ValueWO        types.String `tfsdk:"value_wo"`
	ValueWOVersion types.Int64  `tfsdk:"value_wo_version"`
	Description    types.String `tfsdk:"description"`
	Category       types.String `tfsdk:"category"`
	Validate       types.Bool   `tfsdk:"validate"`
	KID            types.String `tfsdk:"kid"`
	Revision       types.Int64  `tfsdk:"revision"`
	CreatedAt      types.String `tfsdk:"created_at"`
	UpdatedAt      types.String `tfsdk:"updated_at"`
}

// storesSameAs reports whether writing m would store what state already
// holds (same value, or same value_wo_version, and metadata).
func (m *projectSecretModel) storesSameAs(state projectSecretModel) bool {
	return m.Value.Equal(state.Value) && m.ValueWOVersion.Equal(state.ValueWOVersion) &&
		m.Description.Equal(state.Description) && m.Category.Equal(state.Category)
}

func (m *projectSecretModel) secretID() string {
	return m.Project.ValueString() + "/" + m.Name.ValueString()
}

// putInput is the write of m; a write-only value comes from config, since
// plans never carry it.
func (m *projectSecretModel) putInput(config projectSecretModel, expectedRevision int64) store.PutSecretInput {
	value := m.Value
	if value.IsNull() {
		value = config.ValueWO
	}
	category := m.Category.ValueString()
	if m.Category.IsUnknown() {
		// The name was unknown at plan time (catalogCategoryDefault).
		category = catalog.DefaultCategory(m.Name.ValueString())
	}
	return store.PutSecretInput{
		Project:          m.Project.ValueString(),
		Name:             m.Name.ValueString(),
		Value:            []byte(value.ValueString()),
		Description:      m.Description.ValueString(),
		Category:         category,
		ExpectedRevision: expectedRevision,
	}
}

// setMeta copies what the database knows into m; value_wo stays null.
func (m *projectSecretModel) setMeta(meta store.SecretMeta) {
	m.ID = types.StringValue(meta.Project + "/" + meta.Name)
	m.Project = types.StringValue(meta.Project)
	m.Name = types.StringValue(meta.Name)
	m.ValueWO = types.StringNull()
	m.Description = types.StringValue(meta.Description)
	m.Category = types.StringValue(meta.Category)
	m.KID = types.StringValue(meta.KID)
	m.Revision = types.Int64Value(meta.Revision)
	m.CreatedAt = timeValue(meta.CreatedAt)
	m.UpdatedAt = timeValue(meta.UpdatedAt)
}

// privateState is the part of the framework's private state API used here.
type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// setAppliedRevision records the revision Terraform wrote for a value_wo
// secret, and forgets it for a `value` one (whose drift shows in value).
func setAppliedRevision(ctx context.Context, p privateState, m projectSecretModel, revision int64) diag.Diagnostics {
	if m.ValueWOVersion.IsNull() {
		return p.SetKey(ctx, appliedRevisionKey, nil)
	}
	b, _ := json.Marshal(revision)
	return p.SetKey(ctx, appliedRevisionKey, b)
}

// setPrivateString keeps a string in private state, which holds JSON.
func setPrivateString(ctx context.Context, p privateState, key, value string) diag.Diagnostics {
	b, _ := json.Marshal(value)
	return p.SetKey(ctx, key, b)
}

// privateString reads what setPrivateString kept; "" when absent or
// unreadable, which only skips a check until the next write.
func privateString(ctx context.Context, p privateState, key string) (string, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, key)
	var v string
	if diags.HasError() || len(b) == 0 || json.Unmarshal(b, &v) != nil {
		return "", diags
	}
	return v, diags
}

func appliedRevision(ctx context.Context, p privateState) (int64, bool, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, appliedRevisionKey)
	if diags.HasError() || len(b) == 0 {
		return 0, false, diags
	}
	var rev int64
	if err := json.Unmarshal(b, &rev); err != nil {
		// Unreadable private state only loses drift detection until the
		// next apply rewrites it.
		return 0, false, diags
	}
	return rev, true, diags
}

// catalogCategoryDefault plans category from the catalog when the
// configuration leaves it unset, so the plan shows the category that will
// be stored (`ai` for ANTHROPIC_API_KEY, none for a name outside the
// catalog).
type catalogCategoryDefault struct{}

func (catalogCategoryDefault) Description(context.Context) string {
	return "defaults to the catalog category of a well-known name"
}

func (m catalogCategoryDefault) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (catalogCategoryDefault) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !req.ConfigValue.IsNull() {
		return
	}
	// Walking the raw plan skips the schema lookups of Plan.GetAttribute,
	// which add up over a plan of many secrets.
	found, _, err := tftypes.WalkAttributePath(req.Plan.Raw, tftypes.NewAttributePath().WithAttributeName("name"))
	name, ok := found.(tftypes.Value)
	if err != nil || !ok || !name.IsKnown() {
		resp.PlanValue = types.StringUnknown()
		return
	}
	var s string
	_ = name.As(&s)
	resp.PlanValue = types.StringValue(catalog.DefaultCategory(s))
}
