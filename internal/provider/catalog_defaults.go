package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
)

// The catalog's defaults for a well-known secret name, planned so that the
// plan shows what will be stored; the store applies the same catalog when
// a writer leaves them unset.

// plannedName is the planned secret name, read from the raw plan: walking
// it skips the schema lookups of Plan.GetAttribute, which add up over a
// plan of many secrets. ok is false while the name is unknown.
func plannedName(plan tftypes.Value) (name string, ok bool) {
	v := rawAttr(plan, "name")
	if !v.IsKnown() || v.IsNull() || v.As(&name) != nil {
		return "", false
	}
	return name, true
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
	name, ok := plannedName(req.Plan.Raw)
	if !ok {
		resp.PlanValue = types.StringUnknown()
		return
	}
	resp.PlanValue = types.StringValue(catalog.DefaultCategory(name))
}

// catalogRestartDefault plans requires_restart from the catalog when the
// configuration leaves it unset, as catalogCategoryDefault does category:
// the plan shows the flag that will be stored, and a flag set outside
// Terraform shows as a change instead of being cleared silently.
type catalogRestartDefault struct{}

func (catalogRestartDefault) Description(context.Context) string {
	return "defaults to the catalog's restart notice for a well-known name, false for any other"
}

func (m catalogRestartDefault) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (catalogRestartDefault) PlanModifyBool(_ context.Context, req planmodifier.BoolRequest, resp *planmodifier.BoolResponse) {
	if !req.ConfigValue.IsNull() {
		return
	}
	name, ok := plannedName(req.Plan.Raw)
	if !ok {
		resp.PlanValue = types.BoolUnknown()
		return
	}
	resp.PlanValue = types.BoolValue(catalog.RequiresRestart(name))
}
