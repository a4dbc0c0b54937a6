// Command docgen regenerates the reference documentation under docs/: the
// Terraform provider pages with tfplugindocs, and the CLI reference in
// docs/cli from the cobra command tree.
//
//	go run ./tools/docgen [-root DIR] [-out DIR]
//
// tfplugindocs builds the provider from -root and reads its schema with the
// terraform found on PATH, so nothing is downloaded. `make generate` runs
// it; TestCommittedDocsAreUpToDate regenerates into a temporary directory
// and fails when the committed docs differ.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "repository root: the provider's main package, examples/ and templates/")
	out := flag.String("out", "docs", "directory to write the documentation into")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := generateDocs(ctx, *root, *out); err != nil {
		fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
		os.Exit(1)
	}
}

// generateDocs writes every generated page of the repository at root into
// out: tfplugindocs' pages, then out/cli.
func generateDocs(ctx context.Context, root, out string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("resolve repository root %q: %w", root, err)
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("resolve output directory %q: %w", out, err)
	}
	if err := generateProviderDocs(ctx, root, out); err != nil {
		return err
	}
	return generateCLIDocs(filepath.Join(out, cliDir))
}
