package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// providerData is what the provider's Configure hands to every resource,
// data source, ephemeral resource: one store (one pool, one unwrapped
// keyring) per provider instance.
type providerData struct {
	store *store.Store
	// metas serves refreshes of a project's secrets from one query.
	metas metaSnapshots
}

// dataFrom unpacks the provider data given to a Configure method. It returns
// nil without error before the provider is configured (Terraform calls
// Configure early, with nil, during validation).
func dataFrom(raw any, diags *diag.Diagnostics) *providerData {
	if raw == nil {
		return nil
	}
	d, ok := raw.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerData, got %T; this is a bug in the pgsecrets provider", raw))
		return nil
	}
	return d
}
