#!/usr/bin/env bash
# A sandbox for the operator quick start: a throwaway PostgreSQL (given by
# `make sandbox` in PGSECRETS_DATABASE_URL), a fresh root key file, the
# schema migrated, and pgsecrets on PATH with its settings exported. With
# no arguments it opens an interactive shell; with a command it runs that
# instead (the tests run the README's commands this way). Everything is
# thrown away when the shell or the command exits.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${PGSECRETS_DATABASE_URL:?set PGSECRETS_DATABASE_URL, or run this through make sandbox}"

work=$(mktemp -d "${TMPDIR:-/tmp}/pgsecrets-sandbox.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PATH="$work/bin:$PATH"
export PGSECRETS_ROOT_KEYS_FILE="$work/root-keys.json"

go build -o "$work/bin/pgsecrets" .
pgsecrets init --key-file "$PGSECRETS_ROOT_KEYS_FILE" >/dev/null

if [ $# -gt 0 ]; then
  "$@"
  exit
fi

cat <<MSG

  A throwaway pgsecrets: PostgreSQL, a root key file, the schema, and
  pgsecrets on PATH, with these settings exported:

    PGSECRETS_DATABASE_URL=$PGSECRETS_DATABASE_URL
    PGSECRETS_ROOT_KEYS_FILE=$PGSECRETS_ROOT_KEYS_FILE

  Paste the README's quick start commands (the SLACK_BOT_TOKEN sample is a
  token the catalog accepts). Type exit to throw everything away.

MSG
# Not exec: the trap above must still run when the shell exits.
set +e
case "${SHELL:-bash}" in
  */bash | bash)
    printf '%s\n' '[ -f ~/.bashrc ] && . ~/.bashrc' 'PS1="(pgsecrets sandbox) ${PS1:-\$ }"' > "$work/bashrc"
    "${SHELL:-bash}" --rcfile "$work/bashrc" -i ;;
  *) "$SHELL" -i ;;
esac
