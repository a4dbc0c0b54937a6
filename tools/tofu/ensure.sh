#!/usr/bin/env bash
# Prints the path of an OpenTofu binary of version $1 (default: the one
# the acceptance tests are known to pass with, named in the README),
# building it first when there is none: `make testacc-tofu` and .ci/run
# run the acceptance tests with it.
#
# In order: `tofu` on PATH if it is that version, then a build kept in
# ${XDG_CACHE_HOME:-$HOME/.cache}/pgsecrets/tofu-VERSION/, else a new build
# there from OpenTofu's Go module (a few minutes on two CPUs; later runs
# reuse it). `go install` refuses that module (its go.mod has replace
# directives), so it is built inside its directory in the module cache.
# Progress goes to stderr; stdout is the path alone.
set -euo pipefail

version="${1:-1.12.6}"
module=github.com/opentofu/opentofu

# The version `tofu version` reports, e.g. "1.12.6", or nothing. Not
# from its first line: OpenTofu prints warnings about the CLI
# configuration on stdout, before it.
version_of() { "$1" version 2>/dev/null | sed -n 's/^OpenTofu v//p'; }

if onpath=$(command -v tofu 2>/dev/null) && [ "$(version_of "$onpath")" = "$version" ]; then
  echo "$onpath"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/pgsecrets/tofu-$version"
if [ -x "$cache/tofu" ] && [ "$(version_of "$cache/tofu")" = "$version" ]; then
  echo "$cache/tofu"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "tofu: Go is required to build OpenTofu $version" >&2; exit 1; }
echo "tofu: building OpenTofu $version into $cache (a few minutes, once)" >&2
# Outside any module, so that downloading it touches no go.mod or go.sum.
# go mod download prints its error in its JSON, on stdout: show it whole.
download=$(cd / && go mod download -json "$module@v$version") || { echo "tofu: go mod download $module@v$version failed: $download" >&2; exit 1; }
dir=$(printf '%s\n' "$download" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "tofu: go mod download $module@v$version gave no directory" >&2; exit 1; }
mkdir -p "$cache"
# version.dev=no, as OpenTofu's release builds set it: `tofu version` says
# v1.12.6, not v1.12.6-dev. The temporary name keeps an interrupted build
# from being taken for a finished one.
(cd "$dir" && go build -trimpath -ldflags "-s -w -X $module/version.dev=no" -o "$cache/tofu.partial" ./cmd/tofu) >&2
mv "$cache/tofu.partial" "$cache/tofu"
got=$(version_of "$cache/tofu")
[ "$got" = "$version" ] || { echo "tofu: the build in $cache reports version '$got', want $version" >&2; exit 1; }
echo "$cache/tofu"
