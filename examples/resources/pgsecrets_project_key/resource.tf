# The key of project "billing": adopted when the project already has one
# (the store makes it on the project's first write), made otherwise.
resource "pgsecrets_project_key" "billing" {
  project = "billing"

  # Rotate once the key is 90 days old: a plan made after that shows an
  # update of kid, and its apply gives the project a new key and
  # re-encrypts the project's secrets under it before returning.
  rotation_period = "90d"

  # ... and on demand: change any value to rotate at the next apply.
  rotate_when_changed = {
    reason = "2026-q4"
  }

  # The default. Destroying this resource then only stops managing the key:
  # the key and every secret of the project stay. `true` makes destroy
  # crypto-shred the project (its secrets, history and keys, for good).
  shred_on_destroy = false
}

# Give the project's secrets depends_on the key, so that a rotation and a
# write in the same apply happen in that order.
resource "pgsecrets_project_secret" "stripe" {
  project          = "billing"
  name             = "STRIPE_KEY"
  value_wo         = var.stripe_key
  value_wo_version = 1

  depends_on = [pgsecrets_project_key.billing]
}
