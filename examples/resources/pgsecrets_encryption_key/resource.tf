# Deprecated: each project's secrets are under the project's own key, which
# pgsecrets_project_key shows and rotates. Global data keys only keep
# working in a store upgraded with secrets from before project keys, until
# `pgsecrets reencrypt` moves it (docs/rotation.md).
#
# Rotation: the new key becomes primary and encrypts every secret written
# from now on; the previous primary becomes active (it still decrypts).
# Then run `pgsecrets reencrypt` to move existing secrets to the new key,
# and set the old key to "disabled" or remove it.
resource "pgsecrets_encryption_key" "previous" {
  kid   = "2025-q4"
  state = "active"
}

resource "pgsecrets_encryption_key" "current" {
  # kid omitted: generated, like "261123-Ab3x"
  alg   = "dir"     # default
  enc   = "A256GCM" # default
  state = "primary"

  depends_on = [pgsecrets_encryption_key.previous]
}
