package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
)

var _ resource.ResourceWithUpgradeState = (*projectSecretResource)(nil)

// projectSecretSchemaVersion is the version of pgsecrets_project_secret's
// schema in state.
//
//   - 0: the first release (0.1.0) and 0.2.0. 0.2.0 added requires_restart
//     and on_destroy, so a state of the first release lacks them.
//   - 1: every attribute is set: a plan without refresh
//     (`-refresh=false`) of a state written by any earlier release shows
//     no change, and the secrets are not rewritten.
const projectSecretSchemaVersion = 1

// UpgradeState fills in what a version 0 state may lack with what the
// release that wrote it did: on_destroy `delete`, and the restart flag the
// catalog gives the name, which is what the plan proposes for a
// configuration that leaves it unset. The next refresh reads the stored
// flag.
func (r *projectSecretResource) UpgradeState(ctx context.Context) map[int64]resource.StateUpgrader {
	// Version 0 has every attribute of version 1 (those of 0.1.0 a subset);
	// what the first release's state lacks decodes as null.
	var v0 resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &v0)
	v0.Schema.Version = 0
	return map[int64]resource.StateUpgrader{
		0: {
			PriorSchema: &v0.Schema,
			StateUpgrader: func(ctx context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
				var m projectSecretModel
				resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
				if resp.Diagnostics.HasError() {
					return
				}
				if m.RequiresRestart.IsNull() {
					m.RequiresRestart = types.BoolValue(catalog.RequiresRestart(m.Name.ValueString()))
				}
				m.setUnsetDefaults()
				resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			},
		},
	}
}
