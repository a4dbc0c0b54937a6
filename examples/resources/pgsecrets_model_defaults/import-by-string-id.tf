# Import by project (Terraform 1.5+).
import {
  to = pgsecrets_model_defaults.support
  id = "support"
}
