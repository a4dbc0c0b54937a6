package cli

import (
	"github.com/spf13/cobra"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/catalog"
)

func newCatalogCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "catalog",
		Short: "List the well-known secrets pgsecrets validates",
		Long: `List the catalog of well-known secrets: name, category, the shape a real
value has, whether applications must restart to pick up a change, and a
description.

A secret named like a catalog entry takes its category and restart notice
by default, and ` + "`secret add`" + ` and ` + "`import-env`" + ` refuse a value of the wrong
shape (--no-validate overrides). No database is needed.`,
		Example: `  pgsecrets catalog
  pgsecrets catalog --output json | jq -r '.[] | select(.requires_restart) | .name'`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			entries := catalog.All()
			if g.JSON() {
				return writeJSON(g.IO.Out, entries)
			}
			t := newTable(g.IO.Out, "CATEGORY", "NAME", "RESTART", "DESCRIPTION", "SHAPE")
			for _, e := range entries {
				t.row(e.Category, e.Name, yesNo(e.RequiresRestart), e.Description, e.Shape)
			}
			return t.flush()
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
