# secret_ref builds the {"$secretRef": {...}} object that
# pgsecrets_resolved_config (and `pgsecrets render`) replace with a secret.
output "reference" {
  # {"$secretRef":{"name":"OPENAI_API_KEY"}}
  value = jsonencode(provider::pgsecrets::secret_ref("OPENAI_API_KEY"))
}

output "reference_with_default" {
  # {"$secretRef":{"default":"info","name":"LOG_LEVEL"}}
  value = jsonencode(provider::pgsecrets::secret_ref("LOG_LEVEL", "info"))
}
