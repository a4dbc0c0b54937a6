# Import by project.
terraform import pgsecrets_provider_defaults.support support
