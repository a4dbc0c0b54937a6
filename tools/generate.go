// Package tools holds the repository's development commands. `make
// generate` runs the directives below (cd tools && go generate ./...).
package tools

// The Terraform provider pages (docs/index.md, docs/resources, ...) with
// tfplugindocs, pinned by the tool directive in go.mod, and the CLI
// reference (docs/cli) from the cobra command tree. It runs offline: the
// provider is built from this module and its schema read with the terraform
// on PATH. TestCommittedDocsAreUpToDate fails when the committed docs differ.
//go:generate go run ./docgen -root .. -out ../docs
