# Import by project name (Terraform 1.5+).
import {
  to = pgsecrets_project_key.billing
  id = "billing"
}
