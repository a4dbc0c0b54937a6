#!/usr/bin/env bash
# The main job end to end, as an operator and an infra team would do it:
# keys, migrations, secrets from the CLI, then Terraform applying the
# quickstart, resolving a config, catching drift and destroying.
#
# Run it with `make demo`, which provides PGSECRETS_DATABASE_URL (a
# throwaway PostgreSQL unless one is given).
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${PGSECRETS_DATABASE_URL:?set PGSECRETS_DATABASE_URL, or run this through make demo}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pgsecrets-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PATH="$work/bin:$PATH"

step "Build the binary (one binary: CLI and Terraform provider)"
show go build -o "$work/bin/pgsecrets" .

step "First run: pgsecrets init checks the database, makes the root key file (only its owner can read it) and creates the schema"
show pgsecrets init --key-file "$work/root-keys.json"
show ls -l "$work/root-keys.json"
export PGSECRETS_ROOT_KEYS_FILE="$work/root-keys.json"
export PGSECRETS_ACTOR="demo-operator"
show pgsecrets migrate status

step "init again: nothing to do"
show pgsecrets init --key-file "$work/root-keys.json"

step "Add secrets (values from stdin, never from arguments)"
printf 'sk-ant-api03-demo-value' | show pgsecrets secret add --project demo --name ANTHROPIC_API_KEY --description "Claude API key"
printf 'xoxb-1234-5678-demo' | show pgsecrets secret add --project demo --name SLACK_BOT_TOKEN --category slack

step "Move a plaintext .env file into the encrypted store"
cat > "$work/app.env" <<'ENV'
# the support bot's old .env
export SLACK_SIGNING_SECRET=8f14e45fceea167a5a36dedd4bea2543
SLACK_APP_TOKEN="xapp-1-A0000-demo"
JIRA_BASE_URL=https://example.atlassian.net
JIRA_EMAIL='bot@example.com'
GREETING="Hello,\nworld"
ENV
show pgsecrets import-env --project demo --file "$work/app.env" --dry-run
show pgsecrets import-env --project demo --file "$work/app.env"

step "A pasted token of the wrong shape is refused (and not echoed)"
set +e
printf 'sk-oops-this-is-not-slack' | show pgsecrets secret add --project demo --name SLACK_BOT_TOKEN --yes
set -e

step "Read one back"
show pgsecrets secret get --project demo --name ANTHROPIC_API_KEY

step "A wrong value written by mistake, then rolled back (every write keeps the value it replaces)"
printf 'xoxb-9999-0000-other-workspace' | show pgsecrets secret add --project demo --name SLACK_BOT_TOKEN --yes
show pgsecrets secret history --project demo --name SLACK_BOT_TOKEN
show pgsecrets secret rollback --project demo --name SLACK_BOT_TOKEN --to-revision 1 --yes
show pgsecrets secret get --project demo --name SLACK_BOT_TOKEN

step "List the project's secrets, grouped by category (metadata only)"
show pgsecrets secret list --project demo

step "Shell completion offers projects and secret names (metadata only: no root keys, no audit event)"
# What `source <(pgsecrets completion bash)` (or zsh, fish, powershell) asks at <Tab>.
printf '$ pgsecrets secret get --project demo --name SL<Tab>\n'
env -u PGSECRETS_ROOT_KEYS_FILE pgsecrets __complete secret get --project demo --name SL 2>/dev/null | sed -e '/^:/d' -e 's/\t/    # /'

step "Key status: which key encrypts what"
show pgsecrets key status

step "A freshly generated key file is not this deployment's: refused before anything is written"
show pgsecrets key generate --out "$work/wrong-keys.json"
set +e
printf 'would be unreadable for everyone else' | show pgsecrets secret add --project demo --name OOPS --root-keys-file "$work/wrong-keys.json"
set -e

step "Verify the audit trail (keyed MACs, bound to this deployment)"
show pgsecrets audit verify

if [ -f tools/demo/terraform.sh ]; then
  # shellcheck source=tools/demo/terraform.sh
  source tools/demo/terraform.sh
fi

step "Done"
