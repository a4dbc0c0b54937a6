# Read one secret for the duration of a run; it is never stored in the plan
# or the state.
ephemeral "pgsecrets_project_secret" "github_token" {
  project = "ci"
  name    = "GITHUB_TOKEN"
}

# Ephemeral values go where Terraform accepts them: provider blocks (e.g.
# `token = ephemeral.pgsecrets_project_secret.github_token.value` in a
# provider "github" block), other ephemeral resources, and write-only
# attributes, as here, to share the token with another project.
resource "pgsecrets_project_secret" "release_github_token" {
  project          = "release"
  name             = "GITHUB_TOKEN"
  value_wo         = ephemeral.pgsecrets_project_secret.github_token.value
  value_wo_version = 1 # bump to copy the token again
}
