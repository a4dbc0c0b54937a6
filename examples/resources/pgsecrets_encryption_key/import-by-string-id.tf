# Import by kid (Terraform 1.5+).
import {
  to = pgsecrets_encryption_key.previous
  id = "2025-q4"
}
