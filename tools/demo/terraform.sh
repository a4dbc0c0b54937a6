# Terraform part of the demo, sourced by demo.sh: the README's Terraform
# quick start, exactly: `make install-provider`, then `terraform init` with
# no CLI configuration (no dev_overrides), then apply.
#
# Terraform looks for providers in the implied local mirror under $HOME
# (~/.terraform.d/plugins); here HOME is a throwaway directory for
# Terraform, so your own home and CLI configuration are left alone.

tfhome="$work/home"
mkdir -p "$tfhome"
plugins="$tfhome/.terraform.d/plugins"

step "Install the provider where terraform init finds it (make install-provider)"
show make --no-print-directory install-provider TF_PLUGINS_DIR="$plugins"
provider_bin=$(find "$plugins/registry.terraform.io/pgsecrets/pgsecrets" -type f -name 'terraform-provider-pgsecrets_v*')
printf '%s\n' "${provider_bin#"$tfhome/"}"
"$provider_bin" version

cp -r examples/quickstart "$work/quickstart"
# Terraform as a new user runs it: this HOME, no CLI configuration file,
# no plugin cache, no extra arguments from the environment.
tf() {
  env -u TF_CLI_CONFIG_FILE -u TF_PLUGIN_CACHE_DIR -u TF_CLI_ARGS -u TF_CLI_ARGS_init -u TF_CLI_ARGS_plan -u TF_CLI_ARGS_apply \
    HOME="$tfhome" terraform -chdir="$work/quickstart" "$@"
}

step "terraform init (installs pgsecrets/pgsecrets from the local mirror: no registry, no dev_overrides)"
tf init -input=false -no-color > "$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
grep -E 'Finding|Install' "$work/init.log"
tf version -no-color | grep pgsecrets

step "terraform apply the quickstart (project key, secrets, model defaults, resolved config)"
tf apply -auto-approve -input=false -no-color > "$work/apply.log" 2>&1 || { cat "$work/apply.log"; exit 1; }
tail -n 25 "$work/apply.log"
# The quickstart creates the API key secret its model defaults need:
# nothing to warn about, on the plan or at the end of the apply.
if grep -q 'Provider API key secret missing' "$work/apply.log"; then
  echo "FAIL: the quickstart's apply warns about its own API key secret:"; cat "$work/apply.log"; exit 1
fi

step "The project's secrets, from the metadata-only data source"
tf output -no-color secrets

step "The write-only key and the rendered configuration are nowhere in the state"
tf state pull > "$work/quickstart.tfstate"
if grep -q -e 'sk-proj-quickstart' -e 'signingSecret' "$work/quickstart.tfstate"; then
  echo "FAIL: a write-only or ephemeral value is in the state"; exit 1
fi
tf state show -no-color pgsecrets_project_secret.openai | grep -E 'value_wo|revision|kid'

step "The application reads its configuration, every reference resolved"
printf '$ pgsecrets secret get --project chat-service --name APP_CONFIG\n'
app_config=$(pgsecrets secret get --project chat-service --name APP_CONFIG)
printf '%s ...\n' "${app_config:0:72}"

step "The project's secrets are under the project's own key, which Terraform shows"
tf state show -no-color pgsecrets_project_key.this | grep -E '^ *(kid|created_at|wrapping_kid|rotation_period) '
show pgsecrets key status
old_kid=$(tf output -raw kid)

step "Rotate the project's key: its apply re-encrypts the project's secrets under a new key before returning"
printf '$ terraform apply -var key_rotation=2\n'
export TF_VAR_key_rotation=2 # and for every plan below
tf apply -auto-approve -input=false -no-color > "$work/rotate.log" 2>&1 || { cat "$work/rotate.log"; exit 1; }
grep -E 'pgsecrets_project_key.this: (Modifying|Modifications complete)|Apply complete' "$work/rotate.log"
new_kid=$(tf output -raw kid)
printf 'kid %s -> %s\n' "$old_kid" "$new_kid"
if [ "$new_kid" = "$old_kid" ]; then echo "FAIL: the project key did not rotate"; exit 1; fi
show pgsecrets key status
if pgsecrets key status | grep -q -- "$old_kid"; then
  echo "FAIL: the old project key $old_kid is still listed: secrets did not move"; exit 1
fi
show pgsecrets secret get --project chat-service --name WEBHOOK_SECRET
echo
set +e
tf plan -detailed-exitcode -input=false -no-color > "$work/after-rotate.log" 2>&1
code=$?
set -e
if [ "$code" -ne 0 ]; then echo "FAIL: the plan after the rotation is not empty (exit $code)"; cat "$work/after-rotate.log"; exit 1; fi
echo "terraform plan -detailed-exitcode after the rotation: exit code 0, no changes"

step "Someone changes a secret outside Terraform"
printf 'whsec-changed-by-hand' | show pgsecrets secret add --project chat-service --name WEBHOOK_SECRET --yes

step "CI's drift check: terraform plan -detailed-exitcode"
set +e
tf plan -detailed-exitcode -input=false -no-color 2>&1 | grep -E '^  [~+-]|# pgsecrets|Plan:'
code=${PIPESTATUS[0]}
set -e
if [ "$code" -ne 2 ]; then echo "FAIL: expected exit code 2 (changes), got $code"; exit 1; fi
echo "exit code 2: drift detected"

step "terraform destroy (the quick start sets on_destroy = \"destroy\" and shred_on_destroy = true: nothing is kept)"
tf destroy -auto-approve -input=false -no-color > "$work/destroy.log" 2>&1 || { cat "$work/destroy.log"; exit 1; }
sed -n -E '/^(Warning:|Destroy complete)/,$p' "$work/destroy.log"
show pgsecrets key status
