package provider

import (
	"errors"
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

// requireRootKeys adds an error and reports false when the provider was
// configured without root keys: doing (e.g. "Creating a
// pgsecrets_project_secret") needs
// them. Writes check this before touching the database, so an apply by a
// plan-only configuration fails with nothing written.
func (d *providerData) requireRootKeys(diags *diag.Diagnostics, doing string) bool {
	if d.store.HasKeys() {
		return true
	}
	diags.AddError("Root keys required", doing+" needs the root keys, and this provider was configured without them: "+noRootKeysHelp)
	return false
}

// noRootKeysHelp says what a provider without root keys can do, and how to
// give it keys.
const noRootKeysHelp = "set root_keys in the provider block, or PGSECRETS_ROOT_KEYS or PGSECRETS_ROOT_KEYS_FILE in the environment. " +
	"Without root keys the provider only plans (from names, revisions and who changed what), as a pull request's plan does; apply with the root keys."

// addReadError adds the error of a read that needed values; a missing root
// key is explained with the attribute to set.
func addReadError(diags *diag.Diagnostics, summary, doing string, err error) {
	if errors.Is(err, store.ErrNoRootKeys) {
		diags.AddError("Root keys required", doing+" needs the root keys to decrypt values, and this provider was configured without them: "+noRootKeysHelp)
		return
	}
	diags.AddError(summary, fmt.Sprintf("%s: %v", doing, err))
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
