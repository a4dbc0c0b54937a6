#!/usr/bin/env bash
# A first look at the dashboard: a throwaway database with sample secrets
# in two projects, an admin and an editor with one-time passwords, and
# `pgsecrets serve` until Ctrl-C, which removes everything it made.
#
# Run it with `make dashboard`, which provides PGSECRETS_DATABASE_URL (a
# throwaway PostgreSQL unless one is given). DASHBOARD_LISTEN picks another
# address (default 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${PGSECRETS_DATABASE_URL:?set PGSECRETS_DATABASE_URL, or run this through make dashboard}"
listen="${DASHBOARD_LISTEN:-127.0.0.1:8080}"

work=$(mktemp -d "${TMPDIR:-/tmp}/pgsecrets-dashboard.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Ctrl-C is how a run ends, also while it is still setting up: quietly,
# like stopping the dashboard (below). Other signals end it as failed.
trap 'exit 0' INT
export PATH="$work/bin:$PATH"
export PGSECRETS_ROOT_KEYS_FILE="$work/root-keys.json"
export PGSECRETS_ACTOR="sample-data"

echo "Building pgsecrets and filling a throwaway database with sample secrets..."
go build -o "$work/bin/pgsecrets" .
go build -o "$work/bin/asterraform" ./tools/dashboard/asterraform
pgsecrets init --key-file "$PGSECRETS_ROOT_KEYS_FILE" >/dev/null

add() { # project name value [flags...]
  local project=$1 name=$2 value=$3
  shift 3
  printf '%s' "$value" | pgsecrets secret add --project "$project" --name "$name" "$@" >/dev/null
}
# Written as the Terraform provider writes it, so the page shows the
# Terraform badge.
printf '%s' "sk-ant-api03-sample-$RANDOM" | asterraform --project support-bot --name ANTHROPIC_API_KEY --description "Claude, for answers"
add support-bot SLACK_BOT_TOKEN "xoxb-1111-2222-sample" --description "the bot's token in the support workspace"
add support-bot SLACK_SIGNING_SECRET "8f14e45fceea167a5a36dedd4bea2543"
add support-bot JIRA_BASE_URL "https://example.atlassian.net"
add support-bot JIRA_EMAIL "bot@example.com"
add support-bot ESCALATION_WEBHOOK "https://hooks.example.com/sample" --category webhooks --description "paged when the bot gives up"
add billing STRIPE_KEY "sk_live_sample" --category payments --description "Stripe live key"
add billing STRIPE_WEBHOOK_SECRET "whsec_sample" --category payments --requires-restart
add billing OPENAI_API_KEY "sk-proj-sample"
pgsecrets model-defaults set --project support-bot --chat anthropic/claude-sonnet-4-5 --summary anthropic/claude-haiku-4-5 >/dev/null
pgsecrets model-defaults set --project billing --chat openai/gpt-4.1 --code anthropic/claude-sonnet-4-5 >/dev/null 2>&1
# One restart recorded, so the billing project shows a pending restart
# only after its restart-bound secret changes again.
pgsecrets status --project billing --ack >/dev/null
add billing STRIPE_WEBHOOK_SECRET "whsec_rotated" --yes
# Some history: a token rotated twice, and a secret deleted that can still
# be brought back.
add support-bot SLACK_BOT_TOKEN "xoxb-1111-3333-sample" --yes
add support-bot SLACK_BOT_TOKEN "xoxb-1111-4444-sample" --yes
add support-bot LEGACY_WEBHOOK "https://hooks.example.com/old" --description "the escalation hook before ESCALATION_WEBHOOK"
pgsecrets secret delete --project support-bot --name LEGACY_WEBHOOK --yes >/dev/null

password() { head -c 18 /dev/urandom | base64 | tr -d '/+=' ; }
admin_pw=$(password)
editor_pw=$(password)
printf '%s\n' "$admin_pw" | pgsecrets account add --email admin@example.com --role admin >/dev/null
printf '%s\n' "$editor_pw" | pgsecrets account add --email editor@example.com --role editor --projects support-bot >/dev/null

cat <<MSG

  Dashboard:  http://${listen}

  Sign in as  admin@example.com    password ${admin_pw}
         or   editor@example.com   password ${editor_pw}   (support-bot only)

  The database, keys and passwords are thrown away on Ctrl-C.

MSG
# Not exec: the EXIT trap must outlive serve to remove $work. serve runs
# in a process group of its own (set -m), so that Ctrl-C reaches it once,
# through this script, whether the terminal sent it to every process or
# withpg passed it on to this script alone: a second one would kill it.
# serve stops cleanly on it and exits 0, and so does this script.
#
# serve's exit code goes through a file: bash's own record of a background
# job's status can be lost when a trap interrupts `wait` just as the job
# ends (wait then reports -1, and the script would exit 255).
serve= stopping=
stop_serve() {
  [[ -n $serve ]] || exit 0 # not started yet
  [[ -z $stopping ]] || return 0
  stopping=1
  kill -INT -- "-$serve" 2>/dev/null || true
}
trap stop_serve INT TERM HUP
set -m
{
  code=0
  pgsecrets serve --listen "$listen" || code=$?
  echo "$code" >"$work/serve.status"
} &
serve=$!
set +m
while kill -0 "$serve" 2>/dev/null; do
  wait "$serve" || true # returns early whenever the trap runs
done
# No file: serve died of the signal, and took its group's shell with it.
status=$(cat "$work/serve.status" 2>/dev/null || echo 130)
exit "$status"
