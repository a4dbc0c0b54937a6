package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
// Terraform last wrote or imported, for `value` and `value_wo` alike. For
// value_wo, where state holds no value to compare, a different revision in
// the database is how drift shows; for both, it tells a plan that rewrites
// the secret whether someone else wrote it since.
const appliedRevisionKey = "applied_revision"

// outsideWriteKey names the private state entry describing the last write
// made outside Terraform, as Read found it (see outsideWrite).
const outsideWriteKey = "outside_write"

// sealedKey names the private state entry holding the digest of the
// ciphertext Terraform last saw. The same revision with another ciphertext
// is either a re-encryption or an older ciphertext copied back in the
// database; decrypting tells them apart (the binding refuses the latter).
const sealedKey = "sealed"

// Purposes recorded in the audit events of the reads that decrypt a value.
const (
	refreshPurpose = "terraform refresh"
	importPurpose  = "terraform import"
)

// writeOnlyImportSuffix ends an import ID that must not read the value
// into state: `project/name:write-only`, for value_wo secrets. Names
// cannot contain ':', so the suffix is never part of a name.
const writeOnlyImportSuffix = ":write-only"

// What destroying the resource does to the secret (on_destroy).
const (
	onDestroyDelete  = "delete"
	onDestroyDestroy = "destroy"
)

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
		Version: projectSecretSchemaVersion,
		MarkdownDescription: "A secret of a project, stored encrypted (JWE) under its project's key (`pgsecrets_project_key`). " +
			"Set the value with `value` (kept, marked sensitive, in state) or, with Terraform 1.11 and later, with the write-only `value_wo` " +
			"(never stored in state or plan) and `value_wo_version`. " +
			"A value changed or a secret deleted outside Terraform shows up in the next plan, for both, and a plan that writes the configured value over a write made outside Terraform " +
			"warns who made it and when. " +
			"Import with `project/name` reads the value into state, so that a `value` secret imports with no change to apply; " +
			"import a `value_wo` secret with `project/name:write-only`, which leaves the value out of state (its first apply writes `value_wo`). " +
			"When the configuration also manages the project's `pgsecrets_project_key`, give secrets `depends_on` on it, so that a rotation in the same apply happens before the writes; " +
			"likewise on `pgsecrets_encryption_key` resources (a store not yet moved to project keys), so that destroy removes secrets before the keys that encrypt them.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`project/name`. Import takes it for a `value` secret, and `project/name:write-only` for a `value_wo` secret.",
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
					"Exactly one of `value` and `value_wo` must be set. A change made outside Terraform shows as a change of this attribute. " +
					"A value holds 1 byte to 1 MiB, as with every other way of writing a secret.",
				Validators: []validator.String{valueRule{}},
			},
			"value_wo": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "The secret value, write-only (Terraform 1.11+): sent to the provider on apply and never stored in state or plan. " +
					"Requires `value_wo_version`; Terraform writes the value when the secret is created, when `value_wo_version` changes, " +
					"and when the secret was rewritten outside Terraform. A value holds 1 byte to 1 MiB.",
				Validators: []validator.String{valueRule{}},
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
			"requires_restart": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "Whether applications must restart to use a new value: `pgsecrets status --since TIME` lists the secrets so marked that changed since TIME, " +
					"for a deploy pipeline to decide on a restart. When unset, a well-known name gets the catalog's answer (see `pgsecrets catalog`, e.g. `true` for `SLACK_BOT_TOKEN`), " +
					"any other name `false`; a flag set otherwise (`pgsecrets secret add --requires-restart`) then shows in the plan as going back to the default. " +
					"Set it to keep it.",
				PlanModifiers: []planmodifier.Bool{catalogRestartDefault{}},
			},
			"on_destroy": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(onDestroyDelete),
				MarkdownDescription: "What destroying this resource (or removing it from the configuration) does to the secret. " +
					"`delete` (the default) removes the secret but keeps its last value: `pgsecrets secret undelete --project P --name N` brings it back " +
					"within the undelete window (30 days unless `pgsecrets history retention` says otherwise), and its earlier versions stay in `pgsecrets secret history`. " +
					"`destroy` removes the secret and every kept version of it for good, as `pgsecrets secret destroy` does: nothing of it can be decrypted or brought back. " +
					"Terraform destroys with the setting in state: apply a change of `on_destroy` before removing the resource.",
				Validators: []validator.String{stringvalidator.OneOf(onDestroyDelete, onDestroyDestroy)},
			},
			"validate": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				MarkdownDescription: "Refuse a value whose shape does not fit a well-known secret name (see `pgsecrets catalog`); set false to store it anyway.",
			},
			"kid": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Key id of the key the value is encrypted under: its project's key (`pgsecrets_project_key`); in a store not yet moved to project keys, " +
					"the primary `pgsecrets_encryption_key` when it was written, else the first root key. " +
					"A rotation of the project's key and `pgsecrets reencrypt` change it without any plan change.",
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

func (r *projectSecretResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *projectSecretResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Creating a pgsecrets_project_secret") {
		return
	}
	var plan, config projectSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A secret that already holds exactly this is taken over, not
	// refused: most often it is this very create, whose answer a lost
	// connection (a failover) kept from the apply that ran it, and the
	// apply run again must converge rather than ask for an import.
	in := plan.putInput(config, store.MustNotExist)
	in.SameIsDone = true
	meta, err := r.data.store.PutSecret(ctx, in)
	r.data.metas.invalidate(plan.Project.ValueString())
	if err != nil {
		var conflict *store.ConflictError
		if errors.As(err, &conflict) {
			// The ID that keeps a value_wo value out of state.
			id := plan.secretID()
			if plan.Value.IsNull() {
				id += writeOnlyImportSuffix
			}
			resp.Diagnostics.AddError("Secret already exists",
				fmt.Sprintf("%v. To manage it with Terraform, import it: an `import` block with id = %q, or `terraform import <address> %s`.",
					err, id, id))
			return
		}
		addWriteError(&resp.Diagnostics, plan, err, "Cannot create secret", "Creating "+plan.secretID())
		return
	}
	if meta.Unchanged {
		resp.Diagnostics.AddWarning("Secret already existed with this value",
			fmt.Sprintf("%s already held exactly this value, description, category and restart notice (revision %d, written by %s at %s), so nothing was written and Terraform now manages it. "+
				"This is what a create looks like when an earlier apply's connection was lost after the create committed.",
				plan.secretID(), meta.Revision, meta.UpdatedBy, meta.UpdatedAt.UTC().Format(time.RFC3339)))
	}
	plan.setMeta(meta)
	resp.Diagnostics.Append(setWritten(ctx, resp.Private, meta)...)
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
	st := r.data.store
	meta, err := r.data.metas.get(ctx, st, state.Project.ValueString(), state.Name.ValueString())
	if st.ReadsFromReadURL() && (errors.Is(err, store.ErrNotFound) || err == nil && meta.Revision < state.Revision.ValueInt64()) {
		// The standby is behind what state already holds (a secret written
		// a moment ago): the primary has it, and a plan must never call it
		// deleted or changed back.
		st = st.Consistent()
		meta, err = st.GetSecretMeta(ctx, state.Project.ValueString(), state.Name.ValueString())
	}
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
	// Without root keys there is no digest (meta.Sealed is empty), and
	// nothing to decrypt.
	replaced := sealed != "" && meta.Sealed != "" && meta.Revision == state.Revision.ValueInt64() && meta.Sealed != sealed
	if valueMoved && !st.HasKeys() {
		// Never a silent "no changes": with the value unknown to the
		// refresh, the plan writes the configured one again.
		resp.Diagnostics.AddWarning("Secret value not compared",
			fmt.Sprintf("%s is at revision %d, written by %s at %s, and state holds revision %d. Its value was not compared because the provider was given no root keys (root_keys): this plan writes the configured value again. Plan with root keys to see whether the value differs.",
				state.secretID(), meta.Revision, meta.UpdatedBy, meta.UpdatedAt.UTC().Format(time.RFC3339), state.Revision.ValueInt64()))
		refreshed.Value = types.StringNull()
		valueMoved = false
	}
	if valueMoved || replaced {
		sec, err := st.GetSecret(ctx, meta.Project, meta.Name, refreshPurpose)
		if errors.Is(err, store.ErrNotFound) {
			resp.State.RemoveResource(ctx)
			return
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot read secret", fmt.Sprintf("Refreshing the value of %s: %v", state.secretID(), err))
			return
		}
		warnUnbound(&resp.Diagnostics, sec, state.secretID())
		if valueMoved {
			refreshed.Value = types.StringValue(string(sec.Value))
		}
		meta = sec.SecretMeta
	}
	if meta.Sealed != sealed && meta.Sealed != "" {
		resp.Diagnostics.Append(setPrivateString(ctx, resp.Private, sealedKey, meta.Sealed)...)
	}
	resp.Diagnostics.Append(noteOutsideWrite(ctx, resp.Private, meta)...)
	refreshed.setMeta(meta)
	refreshed.setUnsetDefaults()
	// resp.State starts as the prior state; leaving it alone when nothing
	// changed spares the usual refresh a costly conversion.
	if refreshed != state {
		resp.Diagnostics.Append(resp.State.Set(ctx, &refreshed)...)
	}
}

// warnUnbound warns about a ciphertext that names no row.
func warnUnbound(diags *diag.Diagnostics, sec store.Secret, id string) {
	if sec.Unbound {
		diags.AddWarning("Secret ciphertext carries no binding",
			fmt.Sprintf("The ciphertext of %s names no row, so it would open in any row: it was written by another tool, or planted by someone who can write to the database. Check its value, then run `pgsecrets reencrypt --bind-unbound`; set strict to refuse such ciphertexts.", id))
	}
}

func (r *projectSecretResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Updating a pgsecrets_project_secret") {
		return
	}
	var plan, config, state projectSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Toggling validate or on_destroy alone changes nothing stored: no
	// write, no new revision, no audit event. A value_wo rewritten outside
	// Terraform still is written again.
	if plan.storesSameAs(state) {
		applied, ok, diags := appliedRevision(ctx, req.Private)
		resp.Diagnostics.Append(diags...)
		if !ok || applied == state.Revision.ValueInt64() || plan.ValueWOVersion.IsNull() {
			kept := state
			kept.Validate, kept.OnDestroy = plan.Validate, plan.OnDestroy
			resp.Diagnostics.Append(resp.State.Set(ctx, &kept)...)
			return
		}
	}
	// Compare-and-swap on the revision refreshed at plan time: a write
	// made since then is reported, never silently overwritten.
	meta, err := r.data.store.PutSecret(ctx, plan.putInput(config, state.Revision.ValueInt64()))
	r.data.metas.invalidate(plan.Project.ValueString())
	if err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			resp.Diagnostics.AddError("Secret changed since the plan",
				fmt.Sprintf("%v. Nothing was written; run `terraform apply` again to plan against the current secret.", err))
		case errors.Is(err, store.ErrNotFound):
			resp.Diagnostics.AddError("Secret deleted since the plan",
				fmt.Sprintf("%s was deleted outside Terraform after the plan; run `terraform apply` again to create it.", state.secretID()))
		default:
			addWriteError(&resp.Diagnostics, plan, err, "Cannot update secret", "Writing "+plan.secretID())
		}
		return
	}
	plan.setMeta(meta)
	resp.Diagnostics.Append(setWritten(ctx, resp.Private, meta)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// addWriteError reports a failed write; a value refused by the write
// policy (a value unknown at plan time) is reported as at plan time, and
// one refused by the catalog's shape check gets the way out.
func addWriteError(diags *diag.Diagnostics, m projectSecretModel, err error, summary, doing string) {
	attr := "value"
	if m.Value.IsNull() {
		attr = "value_wo"
	}
	var (
		invalid *store.ValueError
		shape   *catalog.ShapeError
		unknown *store.OutcomeUnknownError
	)
	switch {
	case errors.As(err, &unknown):
		diags.AddError("Lost the database connection while writing",
			fmt.Sprintf("%s: the connection was lost (a restart or failover) while the write was committing, so whether it was applied is unknown: %v. "+
				"Run `terraform apply` again: it plans against what the database holds now, and a create that was applied is taken over, not made twice.", doing, unknown.Err))
	case store.IsConnectionLoss(err):
		diags.AddError("Lost the database connection",
			fmt.Sprintf("%s: %v. The database restarted, failed over or is unreachable, and nothing was written by this step; run `terraform apply` again.", doing, err))
	case errors.As(err, &invalid):
		diags.AddAttributeError(path.Root(attr), invalidValueSummary, err.Error())
	case errors.As(err, &shape):
		diags.AddAttributeError(path.Root(attr), "Value does not fit "+shape.Name,
			err.Error()+"; set validate = false to store it anyway")
	default:
		diags.AddError(summary, fmt.Sprintf("%s: %v", doing, err))
	}
}

// Delete deletes the secret, recoverably (on_destroy = "delete") or with
// every version for good (on_destroy = "destroy"). Neither is
// compare-and-swap: destroying the resource means the secret must go
// whatever was written meanwhile, and `terraform destroy -refresh=false`
// would otherwise fail on any out-of-band write.
func (r *projectSecretResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !r.data.requireRootKeys(&resp.Diagnostics, "Destroying a pgsecrets_project_secret") {
		return
	}
	var state projectSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := state.Project.ValueString(), state.Name.ValueString()
	defer r.data.metas.invalidate(project)
	if state.OnDestroy.ValueString() == onDestroyDestroy {
		_, err := r.data.store.DestroySecret(ctx, project, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			resp.Diagnostics.AddError("Cannot destroy secret", fmt.Sprintf("Destroying %s and its versions: %v", state.secretID(), err))
		}
		return
	}
	err := r.data.store.DeleteSecret(ctx, project, name, store.AnyRevision)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddError("Cannot delete secret", fmt.Sprintf("Deleting %s: %v", state.secretID(), err))
	}
}

// ImportState takes `project/name` or `project/name:write-only`. It cannot
// see the configuration, so the ID says which kind of secret this is: the
// first reads the value into state (an audited read), so that a `value`
// secret imports with nothing to apply; the second leaves it out, since a
// `value_wo` value must never reach state, and the apply that follows
// writes value_wo. Both record the revision imported as Create records the
// one it wrote, so drift and its author show the same way whether
// Terraform created the secret or imported it.
func (r *projectSecretResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id, writeOnly := strings.CutSuffix(req.ID, writeOnlyImportSuffix)
	parts, err := splitImportID(id, "project/name, e.g. myapp/OPENAI_API_KEY, or project/name"+writeOnlyImportSuffix+" for a value_wo secret", 2)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	project, name := parts[0], parts[1]
	s := readyStore(r.data, &resp.Diagnostics)
	if s == nil {
		return
	}
	notFound := func() {
		resp.Diagnostics.AddError("Cannot import secret",
			fmt.Sprintf("There is no secret %s/%s: check the project and name (`pgsecrets secret list --project %s`).", project, name, project))
	}
	if writeOnly {
		// Metadata only: nothing decrypted, nothing audited, and the
		// revision imported becomes the one later writes are told from.
		meta, err := s.GetSecretMeta(ctx, project, name)
		if errors.Is(err, store.ErrNotFound) {
			notFound()
			return
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot import secret", fmt.Sprintf("Importing %s/%s: %v", project, name, err))
			return
		}
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), project)...)
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
		resp.Diagnostics.Append(setWritten(ctx, resp.Private, meta)...)
		return
	}
	sec, err := s.GetSecret(ctx, project, name, importPurpose)
	if errors.Is(err, store.ErrNotFound) {
		notFound()
		return
	}
	if err != nil {
		addReadError(&resp.Diagnostics, "Cannot import secret", fmt.Sprintf("Importing %s/%s with its value (import %q to leave the value out)", project, name, project+"/"+name+writeOnlyImportSuffix), err)
		return
	}
	warnUnbound(&resp.Diagnostics, sec, project+"/"+name)
	m := projectSecretModel{Value: types.StringValue(string(sec.Value)), ValueWOVersion: types.Int64Null()}
	clear(sec.Value)
	m.setMeta(sec.SecretMeta)
	m.setUnsetDefaults()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	// Read then finds the same ciphertext and decrypts nothing again, and
	// a later write outside Terraform is told from the revision imported.
	resp.Diagnostics.Append(setWritten(ctx, resp.Private, sec.SecretMeta)...)
}

// projectSecretModel is the resource's state, plan and config.
type projectSecretModel struct {
	ID              types.String `tfsdk:"id"`
	Project         types.String `tfsdk:"project"`
	Name            types.String `tfsdk:"name"`
	Value           types.String `tfsdk:"value"`
	ValueWO         types.String `tfsdk:"value_wo"`
	ValueWOVersion  types.Int64  `tfsdk:"value_wo_version"`
	Description     types.String `tfsdk:"description"`
	Category        types.String `tfsdk:"category"`
	RequiresRestart types.Bool   `tfsdk:"requires_restart"`
	OnDestroy       types.String `tfsdk:"on_destroy"`
	Validate        types.Bool   `tfsdk:"validate"`
	KID             types.String `tfsdk:"kid"`
	Revision        types.Int64  `tfsdk:"revision"`
	CreatedAt       types.String `tfsdk:"created_at"`
	UpdatedAt       types.String `tfsdk:"updated_at"`
}

// storesSameAs reports whether writing m would store what state already
// holds (same value, or same value_wo_version, and metadata).
func (m *projectSecretModel) storesSameAs(state projectSecretModel) bool {
	return m.Value.Equal(state.Value) && m.ValueWOVersion.Equal(state.ValueWOVersion) &&
		m.Description.Equal(state.Description) && m.Category.Equal(state.Category) &&
		m.RequiresRestart.Equal(state.RequiresRestart)
}

func (m *projectSecretModel) secretID() string {
	return m.Project.ValueString() + "/" + m.Name.ValueString()
}

// putInput is the write of m; a write-only value comes from config, since
// plans never carry it. Category and restart flag are the planned ones,
// which already hold the catalog's defaults (catalogCategoryDefault,
// catalogRestartDefault), so the plan shows what is stored.
func (m *projectSecretModel) putInput(config projectSecretModel, expectedRevision int64) store.PutSecretInput {
	value := m.Value
	if value.IsNull() {
		value = config.ValueWO
	}
	in := store.PutSecretInput{
		Project:     m.Project.ValueString(),
		Name:        m.Name.ValueString(),
		Value:       []byte(value.ValueString()),
		Description: m.Description.ValueString(),
		// Unknown when the name was unknown at plan time: "" and nil take
		// the catalog's defaults, as the plan modifiers would have.
		Category:         m.Category.ValueString(),
		Validate:         m.Validate.ValueBool(),
		ExpectedRevision: expectedRevision,
	}
	if !m.RequiresRestart.IsUnknown() && !m.RequiresRestart.IsNull() {
		restart := m.RequiresRestart.ValueBool()
		in.RequiresRestart = &restart
	}
	return in
}

// setMeta copies what the database knows into m; value_wo stays null.
func (m *projectSecretModel) setMeta(meta store.SecretMeta) {
	m.ID = types.StringValue(meta.Project + "/" + meta.Name)
	m.Project = types.StringValue(meta.Project)
	m.Name = types.StringValue(meta.Name)
	m.ValueWO = types.StringNull()
	m.Description = types.StringValue(meta.Description)
	m.Category = types.StringValue(meta.Category)
	m.RequiresRestart = types.BoolValue(meta.RequiresRestart)
	m.KID = types.StringValue(meta.KID)
	m.Revision = types.Int64Value(meta.Revision)
	m.CreatedAt = timeValue(meta.CreatedAt)
	m.UpdatedAt = timeValue(meta.UpdatedAt)
}

// setUnsetDefaults gives the provider-side settings that import, and the
// state of the first release (UpgradeState), leave null their defaults,
// which keeps the next plan empty.
func (m *projectSecretModel) setUnsetDefaults() {
	if m.Validate.IsNull() {
		m.Validate = types.BoolValue(true)
	}
	if m.OnDestroy.IsNull() {
		m.OnDestroy = types.StringValue(onDestroyDelete)
	}
}
