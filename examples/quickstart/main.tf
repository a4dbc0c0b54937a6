# A complete, runnable configuration: a data key, the secrets of one
# application, its AI provider defaults, and its configuration rendered with
# every secret reference resolved.
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

# Envelope encryption: secrets are encrypted under this data key, which is
# itself stored wrapped under the root key.
resource "pgsecrets_encryption_key" "primary" {
  state = "primary"
}

resource "pgsecrets_project_secret" "webhook" {
  project     = var.project
  name        = "WEBHOOK_SECRET"
  value       = "whsec-quickstart-value"
  description = "Signs outgoing webhooks"
  category    = "webhooks"

  depends_on = [pgsecrets_encryption_key.primary]
}

resource "pgsecrets_project_secret" "openai" {
  project          = var.project
  name             = "OPENAI_API_KEY"
  value_wo         = var.openai_api_key
  value_wo_version = 1
  description      = "OpenAI API key (write-only: not in state)"

  depends_on = [pgsecrets_encryption_key.primary]
}

resource "pgsecrets_provider_defaults" "this" {
  project = var.project
  chat    = { provider = "openai", model = "gpt-4o" }
  summary = { provider = "openai", model = "gpt-4o-mini" }

  # The OPENAI_API_KEY secret the openai defaults need exists first: the
  # provider warns when defaults are set for a project without it.
  depends_on = [pgsecrets_project_secret.openai]
}

data "pgsecrets_resolved_config" "app" {
  project = var.project
  config = jsonencode({
    listen   = ":8080"
    openai   = { apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") }
    webhooks = { signingSecret = provider::pgsecrets::secret_ref("WEBHOOK_SECRET") }
    logLevel = provider::pgsecrets::secret_ref("LOG_LEVEL", "info")
  })

  depends_on = [pgsecrets_project_secret.webhook, pgsecrets_project_secret.openai]
}

output "kid" {
  description = "The data key that encrypts the secrets."
  value       = pgsecrets_encryption_key.primary.kid
}

output "references" {
  value = data.pgsecrets_resolved_config.app.references
}

output "sources" {
  value = data.pgsecrets_resolved_config.app.sources
}

output "rendered_config" {
  value     = data.pgsecrets_resolved_config.app.rendered
  sensitive = true
}
