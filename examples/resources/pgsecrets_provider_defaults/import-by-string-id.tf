# Import by project (Terraform 1.5+).
import {
  to = pgsecrets_provider_defaults.support
  id = "support"
}
