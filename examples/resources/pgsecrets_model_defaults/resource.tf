# The project's AI defaults. When they are applied, the provider warns if
# a use case names a provider whose usual API key secret (here
# ANTHROPIC_API_KEY and OPENAI_API_KEY) is still missing from the project:
# put the pgsecrets_project_secret that creates it in depends_on.
resource "pgsecrets_model_defaults" "support" {
  project = "support"

  chat = {
    provider = "anthropic"
    model    = "claude-sonnet-4-5"
  }
  code = {
    provider = "openai"
    model    = "gpt-4.1"
  }
  # summary left out: no default for it
}
