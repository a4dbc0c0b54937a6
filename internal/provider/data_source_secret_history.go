package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

var (
	_ datasource.DataSource              = (*secretHistoryDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*secretHistoryDataSource)(nil)
)

// secretHistoryDataSource lists the revisions of one secret. Like
// pgsecrets_project_secrets it never decrypts: metadata only, so nothing
// secret reaches state.
type secretHistoryDataSource struct {
	data *providerData
	// earlierName serves the data source under pgsecrets_secret_versions,
	// its name before "history" became the one word for it.
	earlierName bool
}

// NewSecretHistoryDataSource is the pgsecrets_secret_history data source.
func NewSecretHistoryDataSource() datasource.DataSource { return &secretHistoryDataSource{} }

// NewSecretVersionsDataSource is pgsecrets_secret_history under its
// earlier name, deprecated.
func NewSecretVersionsDataSource() datasource.DataSource {
	return &secretHistoryDataSource{earlierName: true}
}

func (d *secretHistoryDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_secret_history"
	if d.earlierName {
		resp.TypeName = req.ProviderTypeName + "_secret_versions"
	}
}

func (d *secretHistoryDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the revisions of a secret, newest first: the current one and every version its history keeps " +
			"(how many, and for how long, is the project's history retention). Metadata only, never values: nothing is decrypted. " +
			"Use it to check who wrote a secret and when, or to find the revision for `pgsecrets secret rollback --to-revision`. " +
			"A deleted secret still lists the version a delete kept, until it is destroyed or pruned.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Project of the secret.",
				Validators:          []validator.String{projectNameRule},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the secret. A secret with no revision at all (never written, destroyed, or pruned) is an error.",
				Validators:          []validator.String{secretNameRule},
			},
			"versions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The secret's revisions, newest first.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"revision": schema.Int64Attribute{Computed: true, MarkdownDescription: "Revision number, increased by one on every write."},
						"kid":      schema.StringAttribute{Computed: true, MarkdownDescription: "Key id of the key this revision's value is encrypted under."},
						"action": schema.StringAttribute{Computed: true, MarkdownDescription: "The write that made this revision: " +
							"`create`, `update`, `rollback` or `undelete`."},
						"written_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When this revision was written, RFC 3339, UTC."},
						"written_by": schema.StringAttribute{Computed: true, MarkdownDescription: "Audit actor that wrote this revision."},
						"current":    schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether this is the secret's live value."},
						"deleted": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether this is the value a delete removed, " +
							"which `pgsecrets secret undelete` brings back within the undelete window (see `pgsecrets history retention`)."},
						"replaced_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When a later write or a delete replaced this revision, " +
							"RFC 3339, UTC; null for the current one."},
					},
				},
			},
		},
	}
	if d.earlierName {
		resp.Schema.DeprecationMessage = "pgsecrets_secret_versions is now pgsecrets_secret_history, the word `pgsecrets secret history` and `pgsecrets history` use: " +
			"rename the data source; both read the same."
		resp.Schema.MarkdownDescription = "The earlier name of `pgsecrets_secret_history`, which reads the same: rename the data source."
	}
}

func (d *secretHistoryDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *secretHistoryDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m secretHistoryModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := readyStore(d.data, &resp.Diagnostics)
	if s == nil {
		return
	}
	project, name := m.Project.ValueString(), m.Name.ValueString()
	history, err := s.SecretHistory(ctx, project, name)
	if errors.Is(err, store.ErrNotFound) {
		resp.Diagnostics.AddError("Secret not found",
			fmt.Sprintf("%s/%s has no revisions: it was never written, was destroyed, or its history was pruned. Check the name with `pgsecrets secret list --project %s`.", project, name, project))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read secret history", fmt.Sprintf("Reading the versions of %s/%s: %v", project, name, err))
		return
	}
	m.Versions = make([]secretVersionModel, len(history))
	for i, v := range history {
		replacedAt := types.StringNull()
		if v.ReplacedAt != nil {
			replacedAt = timeValue(*v.ReplacedAt)
		}
		m.Versions[i] = secretVersionModel{
			Revision:   types.Int64Value(v.Revision),
			KID:        types.StringValue(v.KID),
			Action:     types.StringValue(v.Action),
			WrittenAt:  timeValue(v.WrittenAt),
			WrittenBy:  types.StringValue(v.WrittenBy),
			Current:    types.BoolValue(v.Current),
			Deleted:    types.BoolValue(v.Deleted),
			ReplacedAt: replacedAt,
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type secretHistoryModel struct {
	Project  types.String         `tfsdk:"project"`
	Name     types.String         `tfsdk:"name"`
	Versions []secretVersionModel `tfsdk:"versions"`
}

type secretVersionModel struct {
	Revision   types.Int64  `tfsdk:"revision"`
	KID        types.String `tfsdk:"kid"`
	Action     types.String `tfsdk:"action"`
	WrittenAt  types.String `tfsdk:"written_at"`
	WrittenBy  types.String `tfsdk:"written_by"`
	Current    types.Bool   `tfsdk:"current"`
	Deleted    types.Bool   `tfsdk:"deleted"`
	ReplacedAt types.String `tfsdk:"replaced_at"`
}
