# Import by project/name (Terraform 1.5+). The value is not read into state:
# the apply that imports also writes the configured value.
import {
  to = pgsecrets_project_secret.stripe
  id = "billing/STRIPE_KEY"
}
