# The revisions of a secret, newest first: who wrote each and when, never
# values.
data "pgsecrets_secret_history" "stripe" {
  project = "billing"
  name    = "STRIPE_KEY"
}

output "stripe_last_written_by" {
  value = data.pgsecrets_secret_history.stripe.versions[0].written_by
}

# Revisions that `pgsecrets secret rollback --to-revision` can go back to.
output "stripe_kept_revisions" {
  value = [for v in data.pgsecrets_secret_history.stripe.versions : v.revision if !v.current]
}
