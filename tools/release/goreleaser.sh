#!/usr/bin/env bash
# goreleaser at the one version releases are made (.github/workflows/release.yml)
# and checked (check.sh) with. `go run` builds it once into Go's build cache;
# it is not a dependency of the module.
set -euo pipefail
exec go run github.com/goreleaser/goreleaser/v2@v2.17.0 "$@"
