# List a project's secrets: names and metadata, never values.
data "pgsecrets_project_secrets" "chat" {
  project = "chat"
}

output "chat_secret_names" {
  value = [for s in data.pgsecrets_project_secrets.chat.secrets : s.name]
}

# Secrets whose ciphertext is not bound to its row yet (written by another
# tool): `pgsecrets reencrypt --project chat` binds them.
output "chat_unbound_secrets" {
  value = [for s in data.pgsecrets_project_secrets.chat.secrets : s.name if !s.bound]
}
