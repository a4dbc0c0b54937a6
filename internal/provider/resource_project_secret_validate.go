package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/envpolicy"
)

// Plan-time checks of a pgsecrets_project_secret's configuration.

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
	validateCategory(attrs, &resp.Diagnostics)
	warnStartupName(attrs, &resp.Diagnostics)
}

// warnStartupName warns, at validate, plan and apply, when the secret's
// name changes how programs start (LD_PRELOAD, BASH_ENV, PATH...): it is
// stored, but `pgsecrets run` refuses to pass it unless allowed.
func warnStartupName(attrs map[string]tftypes.Value, diags *diag.Diagnostics) {
	var name string
	if n := attrs["name"]; !n.IsKnown() || n.IsNull() || n.As(&name) != nil {
		return
	}
	if msg := envpolicy.StartupWarning(name); msg != "" {
		diags.AddAttributeWarning(path.Root("name"), "Secret named like a variable that changes how programs start", strings.ToUpper(msg[:1])+msg[1:]+".")
	}
}

// validateCategory refuses category = "" for a name the catalog gives a
// category: the store's write policy reads an empty category as "the
// catalog's", so the apply would store another category than planned.
func validateCategory(attrs map[string]tftypes.Value, diags *diag.Diagnostics) {
	var category, name string
	if c := attrs["category"]; !c.IsKnown() || c.IsNull() || c.As(&category) != nil || category != "" {
		return
	}
	if n := attrs["name"]; !n.IsKnown() || n.IsNull() || n.As(&name) != nil {
		return
	}
	if def := catalog.DefaultCategory(name); def != "" {
		diags.AddAttributeError(path.Root("category"), "Empty category for "+name,
			fmt.Sprintf("A secret called %s always gets a category: with none given it is the catalog's, %q. Remove category to store %q, or set the category you want.", name, def, def))
	}
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
