package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ datasource.DataSource              = (*projectSecretsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*projectSecretsDataSource)(nil)
)

// projectSecretsDataSource lists a project's secrets. It never decrypts:
// metadata only, so nothing secret reaches state.
type projectSecretsDataSource struct{ data *providerData }

// NewProjectSecretsDataSource is the pgsecrets_project_secrets data source.
func NewProjectSecretsDataSource() datasource.DataSource { return &projectSecretsDataSource{} }

func (d *projectSecretsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project_secrets"
}

func (d *projectSecretsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the secrets of a project: names and metadata, never values (nothing is decrypted). " +
			"Use it to check that a config's references exist, or to drive `for_each` over a project's secrets. " +
			"To read values, use the ephemeral resources `pgsecrets_project_secret` or `pgsecrets_resolved_config`.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Project to list. A project without secrets gives an empty list.",
				Validators:          []validator.String{projectNameRule},
			},
			"secrets": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The project's secrets, ordered by name.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Secret name."},
						"description": schema.StringAttribute{Computed: true, MarkdownDescription: "Free-text description, \"\" when none."},
						"category":    schema.StringAttribute{Computed: true, MarkdownDescription: "Category, \"\" when none."},
						"kid":         schema.StringAttribute{Computed: true, MarkdownDescription: "Key id of the key the value is encrypted under."},
						"bound": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the value was written bound to this project, name and revision, as pgsecrets writes it. " +
							"`false` for a value written by another tool or before revisions were bound; `pgsecrets reencrypt` binds it. " +
							"Metadata only: every read checks the binding in the ciphertext itself, and `pgsecrets key status` counts from the ciphertexts."},
						"revision":   schema.Int64Attribute{Computed: true, MarkdownDescription: "Revision, increased by one on every write."},
						"created_at": schema.StringAttribute{Computed: true, MarkdownDescription: "Creation time, RFC 3339, UTC."},
						"created_by": schema.StringAttribute{Computed: true, MarkdownDescription: "Audit actor that created the secret."},
						"updated_at": schema.StringAttribute{Computed: true, MarkdownDescription: "Time of the last write, RFC 3339, UTC."},
						"updated_by": schema.StringAttribute{Computed: true, MarkdownDescription: "Audit actor of the last write."},
					},
				},
			},
		},
	}
}

func (d *projectSecretsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *projectSecretsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m projectSecretsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := readyStore(d.data, &resp.Diagnostics)
	if s == nil {
		return
	}
	project := m.Project.ValueString()
	metas, err := s.ListSecrets(ctx, project)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list secrets", fmt.Sprintf("Listing the secrets of project %q: %v", project, err))
		return
	}
	m.Secrets = make([]secretMetaModel, len(metas))
	for i, meta := range metas {
		m.Secrets[i] = secretMetaModel{
			Name:        types.StringValue(meta.Name),
			Description: types.StringValue(meta.Description),
			Category:    types.StringValue(meta.Category),
			KID:         types.StringValue(meta.KID),
			Bound:       types.BoolValue(meta.Bound),
			Revision:    types.Int64Value(meta.Revision),
			CreatedAt:   timeValue(meta.CreatedAt),
			CreatedBy:   types.StringValue(meta.CreatedBy),
			UpdatedAt:   timeValue(meta.UpdatedAt),
			UpdatedBy:   types.StringValue(meta.UpdatedBy),
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type projectSecretsModel struct {
	Project types.String      `tfsdk:"project"`
	Secrets []secretMetaModel `tfsdk:"secrets"`
}

type secretMetaModel struct {
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Category    types.String `tfsdk:"category"`
	KID         types.String `tfsdk:"kid"`
	Bound       types.Bool   `tfsdk:"bound"`
	Revision    types.Int64  `tfsdk:"revision"`
	CreatedAt   types.String `tfsdk:"created_at"`
	CreatedBy   types.String `tfsdk:"created_by"`
	UpdatedAt   types.String `tfsdk:"updated_at"`
	UpdatedBy   types.String `tfsdk:"updated_by"`
}
