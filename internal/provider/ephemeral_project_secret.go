package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ ephemeral.EphemeralResource              = (*projectSecretEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*projectSecretEphemeral)(nil)
)

// projectSecretEphemeral reads one secret's value for the duration of a
// Terraform run, without it ever reaching the plan or the state.
type projectSecretEphemeral struct{ data *providerData }

// NewProjectSecretEphemeralResource is the pgsecrets_project_secret
// ephemeral resource.
func NewProjectSecretEphemeralResource() ephemeral.EphemeralResource {
	return &projectSecretEphemeral{}
}

func (e *projectSecretEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project_secret"
}

func (e *projectSecretEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one secret's decrypted value for the duration of a Terraform run; it is never written to the plan or the state (Terraform 1.10+). " +
			"Use it where ephemeral values are accepted: write-only attributes, provider blocks, other ephemeral resources. " +
			"Each read is recorded in the pgsecrets audit trail. To render a whole JSON config instead, use the ephemeral resource `pgsecrets_resolved_config`.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Project holding the secret.",
				Validators:          []validator.String{projectNameRule},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the secret, e.g. `OPENAI_API_KEY`.",
				Validators:          []validator.String{secretNameRule},
			},
			"value": schema.StringAttribute{
				Computed:            true,
				Sensitive:           true,
				MarkdownDescription: "The decrypted value. Ephemeral and sensitive.",
			},
			"revision": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Revision of the value read; it increases by one on every write of the secret.",
			},
			"kid": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Key id of the key the value is encrypted under (`pgsecrets key status` lists keys).",
			},
		},
	}
}

func (e *projectSecretEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (e *projectSecretEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m projectSecretEphemeralModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := readyStore(e.data, &resp.Diagnostics)
	if s == nil {
		return
	}
	project, name := m.Project.ValueString(), m.Name.ValueString()
	sec, err := s.GetSecret(ctx, project, name, "terraform ephemeral resource pgsecrets_project_secret")
	if errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Secret not found",
			fmt.Sprintf("%v. Create it with a pgsecrets_project_secret resource or `pgsecrets secret add --project %s --name %s`, or check project and name.", err, project, name))
		return
	}
	if err != nil {
		addReadError(&resp.Diagnostics, "Cannot read secret", fmt.Sprintf("Reading secret %q of project %q", name, project), err)
		return
	}
	m.Value = types.StringValue(string(sec.Value))
	m.Revision = types.Int64Value(sec.Revision)
	m.KID = types.StringValue(sec.KID)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

type projectSecretEphemeralModel struct {
	Project  types.String `tfsdk:"project"`
	Name     types.String `tfsdk:"name"`
	Value    types.String `tfsdk:"value"`
	Revision types.Int64  `tfsdk:"revision"`
	KID      types.String `tfsdk:"kid"`
}
