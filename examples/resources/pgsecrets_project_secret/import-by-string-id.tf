# A secret set with `value` (Terraform 1.5+): the value is read into state
# (marked sensitive), so the plan shows no change when the configuration
# holds the same value.
import {
  to = pgsecrets_project_secret.stripe
  id = "billing/STRIPE_KEY"
}

# A secret set with `value_wo`: ":write-only" keeps the value out of state;
# the apply that imports also writes value_wo.
import {
  to = pgsecrets_project_secret.openai
  id = "support/OPENAI_API_KEY:write-only"
}
