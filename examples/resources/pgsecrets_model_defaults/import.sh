# Import by project.
terraform import pgsecrets_model_defaults.support support
