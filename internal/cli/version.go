package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// VersionOptions configure `pgsecrets version`.
type VersionOptions struct {
	*globalOptions
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	opts := &VersionOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pgsecrets",
		Long: `Print the version of pgsecrets and the schema version it needs
(` + "`pgsecrets migrate up`" + ` brings a database to it).`,
		Example: `  pgsecrets version
  pgsecrets version --output json`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			return runVersion(opts)
		},
	}
}

func runVersion(opts *VersionOptions) error {
	version := buildVersion(opts.Version)
	schema := store.LatestVersion()
	if opts.JSON() {
		return writeJSON(opts.IO.Out, struct {
			Version       string `json:"version"`
			SchemaVersion int32  `json:"schema_version"`
		}{version, schema})
	}
	fmt.Fprintf(opts.IO.Out, "pgsecrets %s (schema version %d)\n", version, schema)
	return nil
}

// buildVersion is the version set at release time, else the module version
// `go install` recorded, else "dev".
func buildVersion(version string) string {
	if version != "" && version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
