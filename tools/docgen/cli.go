package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/cli"
)

// cliDir is where the CLI reference goes, under docs/.
const cliDir = "cli"

// cliDocHeader opens every CLI page, so nobody edits one by hand.
const cliDocHeader = "<!-- Generated from the pgsecrets command tree by tools/docgen: edit the commands' help in internal/cli, then run `make generate`. -->\n\n"

// generateCLIDocs writes one Markdown page per command into dir,
// pgsecrets.md for the root, replacing the pages of an earlier run so a
// removed command loses its page.
func generateCLIDocs(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("generate CLI docs: remove old %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generate CLI docs: %w", err)
	}
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}
	root := cli.NewRootCmd(ios, "dev")
	// cobra adds --version only when a command line runs; document it too.
	root.InitDefaultVersionFlag()
	disableAutoGenTag(root)
	prepend := func(string) string { return cliDocHeader }
	if err := doc.GenMarkdownTreeCustom(root, dir, prepend, pageLink); err != nil {
		return fmt.Errorf("generate CLI docs into %s: %w", dir, err)
	}
	return nil
}

// disableAutoGenTag drops cobra's "Auto generated ... on <date>" line from
// every page, so that regenerating unchanged commands changes nothing.
func disableAutoGenTag(cmd *cobra.Command) {
	cmd.DisableAutoGenTag = true
	for _, c := range cmd.Commands() {
		disableAutoGenTag(c)
	}
}

// pageLink links a page to another page of the same directory, so the
// links work wherever docs/cli is browsed (GitHub, a checkout).
func pageLink(name string) string {
	return "./" + filepath.Base(name)
}
