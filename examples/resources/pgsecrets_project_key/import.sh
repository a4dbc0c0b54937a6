# Import by project name.
terraform import pgsecrets_project_key.billing billing
