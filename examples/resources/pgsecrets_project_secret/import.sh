# A secret set with `value`: import by project/name. The value is read into
# state (marked sensitive), so the next plan shows no change when the
# configuration holds the same value.
terraform import pgsecrets_project_secret.stripe billing/STRIPE_KEY

# A secret set with `value_wo`: add ":write-only", so that the value never
# reaches state. The next apply writes value_wo.
terraform import pgsecrets_project_secret.openai support/OPENAI_API_KEY:write-only
