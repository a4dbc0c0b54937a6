#!/usr/bin/env bash
# Prints CHANGELOG.md's section for VERSION (X.Y.Z, or vX.Y.Z as a tag
# names it), the release notes, and fails when it has none or it is still
# "(Unreleased)": a tag is pushed once its changelog is written.
#
#   tools/release/notes.sh v0.3.0 > notes.md
set -euo pipefail

version="${1:?usage: notes.sh VERSION}"
version="${version#v}"
changelog="$(cd "$(dirname "$0")/../.." && pwd)/CHANGELOG.md"

heading="$(grep -m 1 -E "^## ${version//./\\.} \\(" "$changelog" || true)"
if [ -z "$heading" ]; then
  echo "notes: CHANGELOG.md has no section \"## $version (...)\": write it before tagging v$version" >&2
  exit 1
fi
if [ "$heading" = "## $version (Unreleased)" ]; then
  echo "notes: CHANGELOG.md's section for $version is still (Unreleased): give it the release date before tagging v$version" >&2
  exit 1
fi
# The lines after the heading, up to the next release's heading.
awk -v heading="$heading" '$0 == heading { on = 1; next } on && /^## / { exit } on' "$changelog"
