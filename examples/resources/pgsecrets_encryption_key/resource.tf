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
