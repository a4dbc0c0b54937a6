# A complete, runnable configuration: a project's key, the secrets of one
# application, its AI provider defaults, and its configuration rendered with
# every secret reference resolved, then stored as a secret of its own.
#
# What lands in Terraform's state: WEBHOOK_SECRET's value (a `value`
# attribute is kept in state, marked sensitive). Kept out of state: the
# OpenAI key (an ephemeral variable written through `value_wo`) and the
# rendered configuration (an ephemeral resource, written through
# `value_wo` too). Use `value_wo` for every secret you can.
#
# The provider reads its settings from the environment here
# (PGSECRETS_DATABASE_URL, PGSECRETS_ROOT_KEYS_FILE), as `make demo` sets
# them. Run `pgsecrets migrate up` once before the first apply.
#
# From a clone: `make install-provider` puts the provider where
# `terraform init` finds it (~/.terraform.d/plugins), at version 0.0.0-dev.

terraform {
  required_version = ">= 1.11"
  required_providers {
    pgsecrets = {
      source = "pgsecrets/pgsecrets"
      # The version `make install-provider` builds. Terraform selects a
      # prerelease only by its exact version; for a released provider,
      # use a constraint such as "~> 1.0".
      version = "0.0.0-dev"
    }
  }
}

provider "pgsecrets" {
  actor = "terraform:quickstart"
}

variable "project" {
  type    = string
  default = "chat-service"
}

variable "openai_api_key" {
  type      = string
  sensitive = true
  ephemeral = true # with value_wo: never in plan or state
  default   = "sk-proj-quickstart-0000000000000000"
}

# Change it (`terraform apply -var key_rotation=2`) to rotate the project's
# key now.
variable "key_rotation" {
  type    = string
  default = "1"
}

# A quick start is thrown away: `terraform destroy` removes its secrets and
# their history for good, and then shreds the project's key. Real secrets
# keep the defaults, on_destroy = "delete" (the last value stays for
# `pgsecrets secret undelete`, the history for rollback) and
# shred_on_destroy = false (destroying the key resource leaves the key and
# every secret in place).
locals {
  on_destroy = "destroy"
}

# Envelope encryption: the project's secrets are encrypted under the
# project's own key, itself stored wrapped under the root key. The store
# makes it on the project's first write; this resource shows it and rotates
# it (a new key, every secret of the project re-encrypted under it) when
# rotate_when_changed changes or once it is older than rotation_period.
resource "pgsecrets_project_key" "this" {
  project         = var.project
  rotation_period = "90d"
  rotate_when_changed = {
    rotation = var.key_rotation
  }

  # Only because a quick start is thrown away: destroy shreds the project.
  shred_on_destroy = true
}

resource "pgsecrets_project_secret" "webhook" {
  project     = var.project
  name        = "WEBHOOK_SECRET"
  value       = "whsec-quickstart-value"
  description = "Signs outgoing webhooks"
  category    = "webhooks"
  on_destroy  = local.on_destroy

  depends_on = [pgsecrets_project_key.this]
}

resource "pgsecrets_project_secret" "openai" {
  project          = var.project
  name             = "OPENAI_API_KEY"
  value_wo         = var.openai_api_key
  value_wo_version = 1
  description      = "OpenAI API key (write-only: not in state)"
  on_destroy       = local.on_destroy

  depends_on = [pgsecrets_project_key.this]
}

resource "pgsecrets_model_defaults" "this" {
  project = var.project
  chat    = { provider = "openai", model = "gpt-4o" }
  summary = { provider = "openai", model = "gpt-4o-mini" }

  # The OPENAI_API_KEY secret the openai defaults need exists first: the
  # provider warns when defaults are set for a project without it.
  depends_on = [pgsecrets_project_secret.openai]
}

# The revisions of the secrets the configuration reads. On a plan that
# writes one of them, its revision is not known until apply: whatever uses
# these waits for the write (depends_on does not make an ephemeral resource
# wait), and APP_CONFIG is written again whenever one of them changes.
locals {
  config_revision = pgsecrets_project_secret.openai.revision + pgsecrets_project_secret.webhook.revision
}

# The application's configuration with every reference resolved, opened
# on each plan and apply and never stored in state (an ephemeral resource;
# the data source of the same name keeps its result in state).
ephemeral "pgsecrets_resolved_config" "app" {
  project = var.project
  config = jsonencode({
    listen   = ":8080"
    openai   = { apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") }
    webhooks = { signingSecret = provider::pgsecrets::secret_ref("WEBHOOK_SECRET") }
    logLevel = provider::pgsecrets::secret_ref("LOG_LEVEL", "info")
    revision = local.config_revision
  })
}

# ... stored for the application to read (`pgsecrets secret get --project
# chat-service --name APP_CONFIG`), write-only.
resource "pgsecrets_project_secret" "app_config" {
  project          = var.project
  name             = "APP_CONFIG"
  value_wo         = ephemeral.pgsecrets_resolved_config.app.rendered
  value_wo_version = local.config_revision
  description      = "The service's configuration, references resolved (write-only: not in state)"
  on_destroy       = local.on_destroy
}

# Metadata only: names, revisions, keys; never a value.
data "pgsecrets_project_secrets" "app" {
  project = var.project

  depends_on = [pgsecrets_project_secret.app_config]
}

output "kid" {
  description = "The project key that encrypts the secrets."
  value       = pgsecrets_project_key.this.kid
}

output "secrets" {
  description = "The project's secrets and the revision of each."
  value       = { for s in data.pgsecrets_project_secrets.app.secrets : s.name => s.revision }
}
