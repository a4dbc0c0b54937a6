// Command pgsecrets is both the Terraform provider for pgsecrets and its
// operator CLI: when Terraform launches it as a plugin it serves the
// provider, otherwise it runs the CLI.
package main

import (
	"context"
	"os"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/cli"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/provider"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	// Terraform sets this handshake variable for every plugin it starts.
	if os.Getenv("TF_PLUGIN_MAGIC_COOKIE") != "" {
		err := provider.Serve(context.Background(), version, false)
		rootkeys.ClosePKCS11()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	code := cli.Main(version)
	// The token's sessions and login end with the process either way; this
	// ends them the way the module expects.
	rootkeys.ClosePKCS11()
	os.Exit(code)
}
