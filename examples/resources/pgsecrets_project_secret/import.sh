# Import by project/name. The value is not read into state: with `value`,
# the first apply writes the configured value; with `value_wo`, it stays
# out of state as always.
terraform import pgsecrets_project_secret.stripe billing/STRIPE_KEY
