terraform {
  required_version = ">= 1.11" # write-only attributes (value_wo)
  required_providers {
    pgsecrets = {
      source = "pgsecrets/pgsecrets"
    }
  }
}

# Every setting can come from the environment instead, as for the
# pgsecrets CLI: PGSECRETS_DATABASE_URL (or DATABASE_URL, or the PG*
# variables), PGSECRETS_ROOT_KEYS or PGSECRETS_ROOT_KEYS_FILE,
# PGSECRETS_SCHEMA, PGSECRETS_ACTOR. Keeping the root keys in the
# environment keeps them out of the configuration.
provider "pgsecrets" {
  database_url    = "postgres://pgsecrets@db.internal:5432/platform?sslmode=verify-full"
  root_keys       = file("/run/secrets/pgsecrets-root-keys.json") # from `pgsecrets key generate`
  schema          = "pgsecrets"                                   # as given to `pgsecrets migrate up`
  actor           = "terraform:platform-ci"                       # recorded in the audit trail
  max_connections = 4
}
