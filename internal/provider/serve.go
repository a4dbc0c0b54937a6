package provider

import (
	"context"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// Address is the provider's registry source address.
const Address = "registry.terraform.io/pgsecrets/pgsecrets"

// Serve runs the provider as a Terraform plugin. With debug, it runs in
// debugger mode and prints the TF_REATTACH_PROVIDERS line to use.
func Serve(ctx context.Context, version string, debug bool) error {
	if !debug {
		quietDiscardedSDKLogs(os.Environ())
	}
	return providerserver.Serve(ctx, New(version), providerserver.ServeOpts{
		Address: Address,
		Debug:   debug,
	})
}

// sdkLogLevels are the variables that set the log levels of the plugin
// SDK, the framework and the plugin protocol (terraform-plugin-log).
var sdkLogLevels = []string{"TF_LOG_SDK", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_SDK_PROTO"}

// quietDiscardedSDKLogs turns the SDK's logs off when Terraform (or
// OpenTofu) would discard them: with no TF_LOG* variable set, the CLI
// drops every line a provider logs, but the SDK logs at trace level unless
// told otherwise, and formats each line (the framework writes several per
// attribute of every resource) only for it to be dropped, which is about
// a quarter of what a plan of many resources allocates. Any TF_LOG*
// variable, or a test's TF_ACC_LOG_PATH, leaves logging as the SDK
// configures it.
func quietDiscardedSDKLogs(environ []string) {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if name == "TF_LOG" || strings.HasPrefix(name, "TF_LOG_") || name == "TF_ACC_LOG_PATH" {
			return
		}
	}
	for _, name := range sdkLogLevels {
		os.Setenv(name, "off")
	}
}
