# Terraform part of the demo, sourced by demo.sh: the pgsecrets binary in
# $work/bin is also the provider.

step "Point Terraform at the local provider build (dev_overrides; no registry)"
cp "$work/bin/pgsecrets" "$work/bin/terraform-provider-pgsecrets"
cat > "$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "pgsecrets/pgsecrets" = "$work/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc"
cp -r examples/quickstart "$work/quickstart"
tf() { terraform -chdir="$work/quickstart" "$@" 2>&1 | grep -v -e 'Provider development overrides are in effect' -e 'The following provider development overrides' -e '^ *- pgsecrets/pgsecrets in ' -e 'The behavior may therefore not match' -e 'published releases' -e '^│ *$' -e '^╷' -e '^╵' -e '^│ Warning:'; return "${PIPESTATUS[0]}"; }

step "terraform apply the quickstart (data key, secrets, provider defaults, resolved config)"
tf apply -auto-approve -input=false -no-color | tail -n 25

step "The resolved config's references and where each came from"
tf output -no-color references
tf output -no-color sources

step "The write-only value is not in the secret's state"
# (The data source's rendered config is in state, marked sensitive; the
# ephemeral resource pgsecrets_resolved_config keeps even that out.)
tf state show -no-color pgsecrets_project_secret.openai > "$work/openai.state"
if grep -q 'sk-proj-quickstart' "$work/openai.state"; then
  echo "FAIL: the write-only value is in the state"; exit 1
fi
grep -E 'value_wo|revision|kid' "$work/openai.state"

step "Secrets now use the data key Terraform created"
show pgsecrets keys status

step "Someone changes a secret outside Terraform"
printf 'whsec-changed-by-hand' | show pgsecrets secret add --project chat-service --name WEBHOOK_SECRET --yes

step "CI's drift check: terraform plan -detailed-exitcode"
set +e
tf plan -detailed-exitcode -input=false -no-color | grep -E '^  [~+-]|# pgsecrets|Plan:'
code=${PIPESTATUS[0]}
set -e
if [ "$code" -ne 2 ]; then echo "FAIL: expected exit code 2 (changes), got $code"; exit 1; fi
echo "exit code 2: drift detected"

step "terraform destroy"
tf destroy -auto-approve -input=false -no-color | tail -n 3
