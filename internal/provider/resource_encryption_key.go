package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ resource.ResourceWithConfigure   = (*encryptionKeyResource)(nil)
	_ resource.ResourceWithImportState = (*encryptionKeyResource)(nil)
)

// encryptionKeyResource is pgsecrets_encryption_key: a data key generated
// inside the provider and stored only wrapped under the first root key.
type encryptionKeyResource struct {
	data *providerData
}

// NewEncryptionKeyResource is the pgsecrets_encryption_key resource.
func NewEncryptionKeyResource() resource.Resource { return &encryptionKeyResource{} }

func (r *encryptionKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_encryption_key"
}

func (r *encryptionKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		DeprecationMessage: "pgsecrets_encryption_key is deprecated: each project's secrets are now encrypted under the project's own key. " +
			"Use pgsecrets_project_key to see and rotate a project's key (docs/rotation.md). " +
			"A global data key only keeps working in a store upgraded with secrets from before project keys, until `pgsecrets reencrypt` moves it; " +
			"a store on project keys refuses to create one or make one primary.",
		MarkdownDescription: "**Deprecated**: use `pgsecrets_project_key` (docs/rotation.md); a store on project keys refuses a new or primary global data key. " +
			"A data encryption key. The provider generates it, wraps it under the first root key and stores only the wrapped form: " +
			"the key material never reaches state, plan or logs. While a key is `primary` it encrypts every new or rewritten secret; " +
			"otherwise the first root key does. To rotate, create a new key with `state = \"primary\"` (the old primary becomes `active`), " +
			"run `pgsecrets reencrypt`, then disable or destroy the old key.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The key id, the form `terraform import` takes.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"kid": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Key id, written in the header of every ciphertext made with the key. " +
					"Generated when omitted as the UTC creation date (YYMMDD), a dash and four random characters, e.g. `261123-Ab3x`. " +
					"Changing it replaces the key, which is refused while secrets use it.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.LengthBetween(1, 128)},
			},
			"alg": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(keyring.Algorithms()[0]),
				MarkdownDescription: "JWE key management algorithm: " + markdownList(keyring.Algorithms()) + ". " +
					"Defaults to `" + keyring.Algorithms()[0] + "`. Changing it replaces the key, which is refused while secrets use it: " +
					"add a new primary key and run `pgsecrets reencrypt` instead.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.OneOf(keyring.Algorithms()...)},
			},
			"enc": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(keyring.Encryptions()[0]),
				MarkdownDescription: "JWE content encryption algorithm: " + markdownList(keyring.Encryptions()) + ". " +
					"Defaults to `" + keyring.Encryptions()[0] + "`. Changing it replaces the key, which is refused while secrets use it: " +
					"add a new primary key and run `pgsecrets reencrypt` instead.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.OneOf(keyring.Encryptions()...)},
			},
			"state": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "`primary` (encrypts new secrets; making a key primary makes the previous primary `active`), " +
					"`active` (decrypts only) or `disabled` (neither). A key that secrets still use cannot be disabled or destroyed: " +
					"make another key primary and run `pgsecrets reencrypt` first. A key that only kept history (earlier values, deleted secrets) uses " +
					"is disabled on destroy rather than deleted, with a warning, so that history stays recoverable.",
				Validators: []validator.String{stringvalidator.OneOf(store.StatePrimary, store.StateActive, store.StateDisabled)},
			},
			"wrapping_kid": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Key id of the root key that wraps this key.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the key was created (RFC 3339, UTC).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *encryptionKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *encryptionKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Creating a pgsecrets_encryption_key") {
		return
	}
	var plan encryptionKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dk, err := r.data.store.CreateDataKey(ctx, store.CreateDataKeyInput{
		KID:   plan.KID.ValueString(), // "" when unknown: the store generates one
		Alg:   plan.Alg.ValueString(),
		Enc:   plan.Enc.ValueString(),
		State: plan.State.ValueString(),
	})
	if err != nil {
		detail := fmt.Sprintf("Creating encryption key: %v", err)
		if errors.Is(err, store.ErrConflict) {
			detail += fmt.Sprintf(". Import it (`terraform import <address> %s`) or choose another kid.", plan.KID.ValueString())
		}
		resp.Diagnostics.AddError("Cannot create encryption key", detail)
		return
	}
	plan.set(dk)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *encryptionKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state encryptionKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dk, err := r.data.store.GetDataKey(ctx, state.KID.ValueString())
	if errors.Is(err, store.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read encryption key", err.Error())
		return
	}
	// A key demoted by another key becoming primary shows here as active.
	state.set(dk)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update can only change state: every other attribute replaces the key.
func (r *encryptionKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Updating a pgsecrets_encryption_key") {
		return
	}
	var plan encryptionKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dk, err := r.data.store.SetDataKeyState(ctx, plan.KID.ValueString(), plan.State.ValueString())
	if err != nil {
		resp.Diagnostics.AddError(keyChangeSummary(err, "Cannot change encryption key state"),
			fmt.Sprintf("Setting key %q to %s: %v", plan.KID.ValueString(), plan.State.ValueString(), err))
		return
	}
	plan.set(dk)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *encryptionKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Destroying a pgsecrets_encryption_key") {
		return
	}
	var state encryptionKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	deleted, versions, err := r.data.store.RetireDataKey(ctx, state.KID.ValueString())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddError(keyChangeSummary(err, "Cannot destroy encryption key"),
			fmt.Sprintf("Destroying key %q: %v", state.KID.ValueString(), err))
		return
	}
	if err == nil && !deleted {
		resp.Diagnostics.AddWarning("Encryption key disabled, not deleted",
			fmt.Sprintf("Key %q no longer encrypts any secret, but %d kept version(s) of earlier or deleted secrets still need it for rollback and undelete, "+
				"so it stays in the database, disabled, and nothing is lost. To use that history again, import the key (id %q) and set state = \"active\"; "+
				"then `pgsecrets reencrypt` moves it to the primary key and the key can be destroyed. `pgsecrets history prune` or `pgsecrets secret destroy` remove the history instead.",
				state.KID.ValueString(), versions, state.KID.ValueString()))
	}
}

func keyChangeSummary(err error, fallback string) string {
	if errors.Is(err, store.ErrInUse) {
		return "Encryption key still in use"
	}
	return fallback
}

func (r *encryptionKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("kid"), req, resp)
}

// encryptionKeyModel is the resource's state, plan and config.
type encryptionKeyModel struct {
	ID          types.String `tfsdk:"id"`
	KID         types.String `tfsdk:"kid"`
	Alg         types.String `tfsdk:"alg"`
	Enc         types.String `tfsdk:"enc"`
	State       types.String `tfsdk:"state"`
	WrappingKID types.String `tfsdk:"wrapping_kid"`
	CreatedAt   types.String `tfsdk:"created_at"`
}

func (m *encryptionKeyModel) set(dk store.DataKey) {
	m.ID = types.StringValue(dk.KID)
	m.KID = types.StringValue(dk.KID)
	m.Alg = types.StringValue(dk.Alg)
	m.Enc = types.StringValue(dk.Enc)
	m.State = types.StringValue(dk.State)
	m.WrappingKID = types.StringValue(dk.WrappingKID)
	m.CreatedAt = timeValue(dk.CreatedAt)
}

// markdownList renders values as `a`, `b`, `c`.
func markdownList(values []string) string {
	out := ""
	for i, v := range values {
		if i > 0 {
			out += ", "
		}
		out += "`" + v + "`"
	}
	return out
}
