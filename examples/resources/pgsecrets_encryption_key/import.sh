# Import by kid.
terraform import pgsecrets_encryption_key.previous 2025-q4
