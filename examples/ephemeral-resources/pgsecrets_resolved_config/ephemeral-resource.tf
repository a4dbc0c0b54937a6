# Render a configuration without it ever reaching the plan or the state.
ephemeral "pgsecrets_resolved_config" "chat_service" {
  project      = "chat"
  env_fallback = true # in CI, an environment variable may stand in for a secret

  config = jsonencode({
    providers = [
      { name = "openai", apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") },
    ]
    logLevel = provider::pgsecrets::secret_ref("LOG_LEVEL", "info")
  })
}

# Ephemeral values go where Terraform accepts them, such as a write-only
# attribute: here the rendered config is stored as another project's secret.
resource "pgsecrets_project_secret" "chat_service_config" {
  project          = "chat-deploy"
  name             = "CONFIG_JSON"
  value_wo         = ephemeral.pgsecrets_resolved_config.chat_service.rendered
  value_wo_version = 1 # bump to write the config again
}
