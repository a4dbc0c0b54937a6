#!/usr/bin/env bash
# The release as the Terraform and OpenTofu registries take it, made from
# this working tree the way .github/workflows/release.yml makes it, but as a
# snapshot signed with a throwaway key (`make release-check`):
#
#   - the tree is copied into a git repository whose directory and remote
#     are not named after the provider, so no name may come from either;
#   - a throwaway RSA key with a passphrase is imported by import-key.sh,
#     as the workflow imports the real one;
#   - `goreleaser check`, then `goreleaser release --snapshot --clean`;
#   - then, as a registry or a user would: the signature of SHA256SUMS
#     verifies (gpg --verify) with the public key alone, every checksum
#     matches its file, the manifest is listed under its release name, and
#     each provider zip holds terraform-provider-pgsecrets_v<version>,
#     which reports that version.
#
# It builds this machine's platform only (one provider and one CLI
# archive, from the configuration with its goos and goarch lists cut to
# this platform, after `goreleaser check` of the whole one);
# RELEASE_CHECK_TARGETS=all builds all 16 binaries of .goreleaser.yml,
# which takes many minutes on two CPUs. goreleaser's before hook runs
# `go mod tidy`: a go.mod it changes fails the check, since the release
# would not build the tagged module.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
goreleaser="$repo/tools/release/goreleaser.sh"
name=terraform-provider-pgsecrets

fail() {
  echo "release check: $*" >&2
  exit 1
}
for tool in git gpg gpgconf gpg-connect-agent sha256sum python3 tar; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is required (gpg and gpgconf: apt-get install gnupg)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/release-check.XXXXXX")"
homes=()
cleanup() {
  for home in "${homes[@]}"; do
    GNUPGHOME="$home" gpgconf --kill gpg-agent 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
keyring() {
  mkdir -m 700 "$work/$1"
  homes+=("$work/$1")
}

# A throwaway signing key with a passphrase, as the release's secret holds.
# RSA: the Terraform Registry takes RSA and DSA keys, not ECC ones.
keyring signer
passphrase="$(head -c 24 /dev/urandom | base64)"
printf '%s' "$passphrase" | GNUPGHOME="$work/signer" gpg --batch --quiet --pinentry-mode loopback --passphrase-fd 0 \
  --quick-gen-key "pgsecrets release check <release-check@example.invalid>" rsa3072 sign 1d 2>/dev/null
secret_key="$(printf '%s' "$passphrase" | GNUPGHOME="$work/signer" gpg --batch --pinentry-mode loopback --passphrase-fd 0 \
  --armor --export-secret-keys)"
GNUPGHOME="$work/signer" gpg --batch --armor --export >"$work/public.asc"

keyring release
fingerprint="$(GNUPGHOME="$work/release" GPG_PRIVATE_KEY="$secret_key" PASSPHRASE="$passphrase" bash "$repo/tools/release/import-key.sh")"

# The working tree (tracked and new files, as git sees them) in a
# repository named otherwise, with one commit and, as a clone has, a
# remote: a fork's, named otherwise too, since goreleaser takes the project
# name from the remote when the configuration gives none.
clone="$work/any-name"
mkdir "$clone"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
  tar -xf - -C "$clone"
git -C "$clone" init -q
git -C "$clone" add -A
git -C "$clone" -c user.name="release check" -c user.email=release-check@example.invalid -c commit.gpgsign=false \
  commit -q -m "release check snapshot"
git -C "$clone" remote add origin https://github.com/example/pgsecrets-fork.git

# This platform only, unless asked for all: the same configuration with
# its goos and goarch lists cut to this machine's.
config="$clone/.goreleaser.yml"
if [ "${RELEASE_CHECK_TARGETS:-}" != all ]; then
  goos="$(go env GOOS)"
  goarch="$(go env GOARCH)"
  config="$work/goreleaser-this-platform.yml"
  sed -E -e "s/^( +goos: )\[.*\]\$/\1[$goos]/" -e "s/^( +goarch: )\[.*\]\$/\1[$goarch]/" "$clone/.goreleaser.yml" >"$config"
  if grep -E '^ +goos:' "$config" | grep -qvE "^ +goos: \[$goos\]\$" || grep -E '^ +goarch:' "$config" | grep -qvE "^ +goarch: \[$goarch\]\$"; then
    fail "cannot cut .goreleaser.yml to this platform: write each goos and goarch list on one line, as [a, b] (or run with RELEASE_CHECK_TARGETS=all)"
  fi
fi
log="$work/goreleaser.log"
run_goreleaser() {
  if ! (cd "$clone" && GNUPGHOME="$work/release" GPG_FINGERPRINT="$fingerprint" "$goreleaser" "$@") >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "goreleaser $* failed (its last lines are above)"
  fi
}
run_goreleaser check
run_goreleaser release --snapshot --clean --config "$config"
git -C "$clone" diff --quiet -- go.mod go.sum ||
  fail "goreleaser's before hook (go mod tidy) changed go.mod or go.sum: run go mod tidy and commit the result"

dist="$clone/dist"
version="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$dist/metadata.json")"
sums="$dist/${name}_${version}_SHA256SUMS"
[ -f "$sums" ] || fail "no ${name}_${version}_SHA256SUMS in dist/: $(ls "$dist" | tr '\n' ' ')"
[ -f "$sums.sig" ] || fail "SHA256SUMS has no detached signature ($(basename "$sums").sig)"
if head -c 5 "$sums.sig" | grep -q -- -----; then
  fail "the signature is ASCII-armored; the registries take a binary one"
fi

# Verified with the public key alone, as a registry or a user does.
keyring verifier
GNUPGHOME="$work/verifier" gpg --batch --quiet --import "$work/public.asc" 2>/dev/null
status="$(GNUPGHOME="$work/verifier" gpg --batch --status-fd 1 --verify "$sums.sig" "$sums" 2>/dev/null)" ||
  fail "gpg --verify $(basename "$sums").sig $(basename "$sums") fails"
signer="$(awk '$2 == "VALIDSIG" { print $NF }' <<<"$status")"
[ "$signer" = "$fingerprint" ] || fail "SHA256SUMS is signed by ${signer:-no valid key}, not by the release key $fingerprint"

# Every line's file matches; the manifest is listed under its release name
# (goreleaser uploads it so named) with the hash of the repository's file.
manifest="${name}_${version}_manifest.json"
grep -q "  ${manifest}\$" "$sums" || fail "SHA256SUMS does not list $manifest"
while read -r sum file; do
  path="$dist/$file"
  [ "$file" = "$manifest" ] && path="$clone/terraform-registry-manifest.json"
  [ -f "$path" ] || fail "SHA256SUMS lists $file, which the release does not have"
  [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sum" ] || fail "the checksum of $file does not match SHA256SUMS"
done <"$sums"

# Each provider zip holds the binary Terraform runs, under the name it
# expects; the one for this machine reports the release's version.
zips=()
for zip in "$dist/${name}_${version}_"*.zip; do
  [ -f "$zip" ] || break
  base="$(basename "$zip" .zip)"
  zips+=("${base#"${name}_${version}_"}")
  binary="${name}_v${version}"
  case "$base" in *_windows_*) binary="$binary.exe" ;; esac
  grep -q "  $(basename "$zip")\$" "$sums" || fail "SHA256SUMS does not list $(basename "$zip")"
  python3 -c 'import sys, zipfile; sys.exit(sys.argv[2] not in zipfile.ZipFile(sys.argv[1]).namelist())' "$zip" "$binary" ||
    fail "$(basename "$zip") does not hold $binary"
  if [ "$base" = "${name}_${version}_$(go env GOOS)_$(go env GOARCH)" ]; then
    mkdir "$work/unpacked"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' "$zip" "$binary" "$work/unpacked"
    chmod +x "$work/unpacked/$binary"
    reported="$("$work/unpacked/$binary" version --output json | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')"
    [ "$reported" = "$version" ] || fail "the provider binary reports version $reported, not $version"
  fi
done
[ "${#zips[@]}" -gt 0 ] || fail "dist/ has no ${name}_${version}_*.zip"
[ -d "$work/unpacked" ] || fail "no provider zip for this machine ($(go env GOOS)_$(go env GOARCH))"
if [ "${RELEASE_CHECK_TARGETS:-}" = all ] && [ "${#zips[@]}" -ne 8 ]; then
  fail "${#zips[@]} provider zips, want 8 (linux, darwin, windows, freebsd on amd64 and arm64)"
fi

echo "release check: passed: ${name} $version for ${zips[*]}, with its manifest in SHA256SUMS, signed by the throwaway key $fingerprint and verified with its public key alone"
