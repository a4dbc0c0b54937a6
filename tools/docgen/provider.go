package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// providerName is the provider's local name, as in `provider "pgsecrets"`.
const providerName = "pgsecrets"

// providerDocPaths are the entries of docs/ that tfplugindocs owns: it
// deletes and rewrites them on every run and leaves the rest of docs/
// (hand-written guides such as docs/rotation.md) alone.
var providerDocPaths = []string{
	"index.md",
	"resources",
	"data-sources",
	"ephemeral-resources",
	"functions",
	"guides",
	"actions",
	"list-resources",
	"state-stores",
}

// generateProviderDocs runs the tfplugindocs pinned in go.mod on the
// provider at root, writing its pages into out.
func generateProviderDocs(ctx context.Context, root, out string) error {
	// Without a terraform on PATH, tfplugindocs would silently download the
	// latest release instead.
	if _, err := exec.LookPath("terraform"); err != nil {
		return fmt.Errorf("generate provider docs: no terraform on PATH (tfplugindocs reads the provider schema with it): install Terraform 1.11 or later")
	}
	// tfplugindocs takes the output directory relative to the provider's.
	rel, err := filepath.Rel(root, out)
	if err != nil {
		return fmt.Errorf("generate provider docs: output %q relative to %q: %w", out, root, err)
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "tfplugindocs", "generate",
		"--provider-dir", root,
		"--provider-name", providerName,
		"--rendered-website-dir", rel,
	)
	cmd.Dir = root
	// No Terraform version check against checkpoint-api.hashicorp.com.
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	var log bytes.Buffer
	cmd.Stdout = &log
	cmd.Stderr = &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("generate provider docs: go tool tfplugindocs generate: %w\n%s", err, strings.TrimSpace(log.String()))
	}
	return nil
}
