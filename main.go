// Command pgsecrets is both the Terraform provider for pgsecrets and its
// operator CLI: when Terraform launches it as a plugin it serves the
// provider, otherwise it runs the CLI.
package main

import (
	"context"
	"os"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/cli"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/provider"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	// Terraform sets this handshake variable for every plugin it starts.
	if os.Getenv("TF_PLUGIN_MAGIC_COOKIE") != "" {
		if err := provider.Serve(context.Background(), version, false); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(cli.Main(version))
}
