package provider

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// Address is the provider's registry source address.
const Address = "registry.terraform.io/pgsecrets/pgsecrets"

// Serve runs the provider as a Terraform plugin. With debug, it runs in
// debugger mode and prints the TF_REATTACH_PROVIDERS line to use.
func Serve(ctx context.Context, version string, debug bool) error {
	tuneGC()
	return providerserver.Serve(ctx, New(version), providerserver.ServeOpts{
		Address: Address,
		Debug:   debug,
	})
}

// tuneGC trades memory for CPU in the plugin process. A plan or apply of
// many resources allocates heavily (the framework converts every
// attribute of every resource) over a small live set, so the default GC
// runs far more often than that set needs, and its CPU is taken from
// Terraform and the database on the same machine. The soft limit bounds
// the heap all the same. GOGC or GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
