#!/usr/bin/env bash
# Imports the release signing key into $GNUPGHOME so that goreleaser's
# `gpg --batch --local-user FINGERPRINT --detach-sign` signs with it, no
# prompt, and prints the key's fingerprint (goreleaser's GPG_FINGERPRINT).
#
#   GPG_PRIVATE_KEY  the ASCII-armored secret key (gpg --armor --export-secret-keys)
#   PASSPHRASE       its passphrase; empty for a key without one
#
# The release workflow runs it with the repository's secrets; check.sh runs
# it with a throwaway key, so the path the release takes is the one tested.
# The passphrase is handed to gpg-agent on stdin, never on a command line
# or in a file.
set -euo pipefail

: "${GNUPGHOME:?set GNUPGHOME to the keyring directory to import into}"
: "${GPG_PRIVATE_KEY:?set GPG_PRIVATE_KEY to the ASCII-armored secret key}"
mkdir -p "$GNUPGHOME"
chmod 700 "$GNUPGHOME"

# Lets the passphrase be given to the agent ahead of the signature.
grep -qx allow-preset-passphrase "$GNUPGHOME/gpg-agent.conf" 2>/dev/null ||
  echo allow-preset-passphrase >>"$GNUPGHOME/gpg-agent.conf"
gpg-connect-agent reloadagent /bye >/dev/null 2>&1 || { echo "import-key: cannot reach gpg-agent" >&2; exit 1; }

# The primary key's fingerprint, read from the key itself: the first fpr
# line after its sec line.
fingerprint="$(printf '%s\n' "$GPG_PRIVATE_KEY" |
  gpg --batch --with-colons --import-options show-only --import 2>/dev/null |
  awk -F: '$1 == "sec" { want = 1; next } $1 == "fpr" && want { print $10; exit }' || true)"
if [ -z "$fingerprint" ]; then
  echo "import-key: GPG_PRIVATE_KEY holds no secret key (export it with gpg --armor --export-secret-keys FINGERPRINT)" >&2
  exit 1
fi
if ! out="$(printf '%s\n' "$GPG_PRIVATE_KEY" | gpg --batch --import 2>&1)"; then
  echo "import-key: gpg could not import key $fingerprint: $out" >&2
  exit 1
fi

if [ -n "${PASSPHRASE:-}" ]; then
  preset="$(gpgconf --list-dirs libexecdir)/gpg-preset-passphrase"
  # Every key of it (primary and subkeys) has its own keygrip.
  gpg --batch --with-colons --with-keygrip --list-secret-keys "$fingerprint" |
    awk -F: '$1 == "grp" { print $10 }' |
    while read -r keygrip; do
      printf '%s' "$PASSPHRASE" | "$preset" --preset "$keygrip"
    done
fi

# A signature proves the key and its passphrase work before goreleaser
# builds anything.
if ! echo probe | gpg --batch --local-user "$fingerprint" --detach-sign >/dev/null 2>&1; then
  echo "import-key: key $fingerprint was imported but cannot sign: check PASSPHRASE" >&2
  exit 1
fi
echo "$fingerprint"
