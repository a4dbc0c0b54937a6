# A value kept, marked sensitive, in state: drift shows as a change of it.
resource "pgsecrets_project_secret" "stripe" {
  project     = "billing"
  name        = "STRIPE_KEY"
  value       = var.stripe_key
  description = "Stripe live secret key"
  category    = "payments"
}

# A write-only value (Terraform 1.11+): never stored in state or plan.
# Bump value_wo_version to write a new value. A rewrite outside Terraform
# (CLI, SQL) makes the next plan write value_wo again.
resource "pgsecrets_project_secret" "openai" {
  project          = "support"
  name             = "OPENAI_API_KEY"
  value_wo         = var.openai_api_key
  value_wo_version = 2
  # category defaults to "ai", OPENAI_API_KEY's in `pgsecrets catalog`.
  # A value that does not look like an OpenAI key ("sk-...") is refused at
  # plan time; validate = false stores it anyway.

  # When the same configuration manages the project's pgsecrets_project_key,
  # add depends_on = [that key], so that a rotation in the same apply
  # happens before the write.
}

# A bot token: the catalog marks SLACK_BOT_TOKEN requires_restart = true, so
# `pgsecrets status --since` lists it after a change and the deploy
# pipeline restarts the app. Removing the resource destroys the secret and
# its history for good instead of the default recoverable delete.
resource "pgsecrets_project_secret" "slack" {
  project          = "support"
  name             = "SLACK_BOT_TOKEN"
  value_wo         = var.slack_bot_token
  value_wo_version = 1
  on_destroy       = "destroy"
}

# A name outside the catalog whose change needs a restart too.
resource "pgsecrets_project_secret" "session" {
  project          = "support"
  name             = "SESSION_SIGNING_KEY"
  value_wo         = var.session_signing_key
  value_wo_version = 1
  requires_restart = true
}

# A name from the catalog with a value of another shape, on purpose (a
# proxy's token): validation off.
resource "pgsecrets_project_secret" "gateway" {
  project  = "support"
  name     = "ANTHROPIC_API_KEY"
  value    = var.gateway_token
  validate = false
}

variable "stripe_key" {
  type      = string
  sensitive = true
}

variable "openai_api_key" {
  type      = string
  sensitive = true
  ephemeral = true # never in plan or state, with value_wo
}

variable "gateway_token" {
  type      = string
  sensitive = true
}

variable "slack_bot_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "session_signing_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
