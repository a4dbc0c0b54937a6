# Render an application's configuration with its secrets filled in.
# The rendered JSON is stored in state (marked sensitive); to keep it out of
# state, use the ephemeral resource of the same name.
data "pgsecrets_resolved_config" "chat_service" {
  project = "chat"

  config = jsonencode({
    listen = ":8080"
    providers = [
      { name = "openai", apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") },
      { name = "anthropic", apiKey = provider::pgsecrets::secret_ref("ANTHROPIC_API_KEY") },
    ]
    # Used when LOG_LEVEL is not a secret of the project.
    logLevel = provider::pgsecrets::secret_ref("LOG_LEVEL", "info")
    # The same reference written by hand:
    webhookSecret = { "$secretRef" = { name = "WEBHOOK_SECRET" } }
  })
}

# Names and origins are not secret: show them.
output "chat_service_references" {
  value = data.pgsecrets_resolved_config.chat_service.references
}

output "chat_service_sources" {
  value = data.pgsecrets_resolved_config.chat_service.sources
}

# The rendered config, for whatever hands it to the application (a
# Kubernetes secret, a file, a parameter store).
output "chat_service_config" {
  value     = data.pgsecrets_resolved_config.chat_service.rendered
  sensitive = true
}
