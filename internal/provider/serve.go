package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/gctune"
)

// Address is the provider's registry source address.
const Address = "registry.terraform.io/pgsecrets/pgsecrets"

// Serve runs the provider as a Terraform plugin. With debug, it runs in
// debugger mode and prints the TF_REATTACH_PROVIDERS line to use.
func Serve(ctx context.Context, version string, debug bool) error {
	// A plan or apply of many resources allocates heavily (the framework
	// converts every attribute of every resource) over a small live set.
	gctune.FewerGCs(gctune.ProviderSoftLimit)
	return providerserver.Serve(ctx, New(version), providerserver.ServeOpts{
		Address: Address,
		Debug:   debug,
	})
}
