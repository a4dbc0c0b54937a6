package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// newPoolerTestEnv is newTestEnv with the provider reaching the database
// through PgBouncer in transaction pooling mode, as production databases
// often are: consecutive transactions of one connection land on different
// server connections, and no session state survives between them.
func newPoolerTestEnv(t *testing.T) *testEnv {
	t.Helper()
	env := newTestEnv(t)
	env.DatabaseURL = pgtest.PoolerURL(t, env.DatabaseURL)
	t.Cleanup(func() { testAccProvider.(*pgsecretsProvider).stores.closeWhere(env.DatabaseURL) })
	return env
}

func manySecrets(env *testEnv, n int, value string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_project_secret" "many" {
  count   = %d
  project = "pooled"
  name    = format("KEY_%%03d", count.index)
  value   = %q
}
`, n, value)
}

// The Terraform basics through a transaction pooler: apply (ten writes at
// once, Terraform's parallelism), a plan with no changes, drift by SQL,
// import and destroy.
func TestAccThroughTransactionPooler(t *testing.T) {
	t.Parallel()
	env := newPoolerTestEnv(t)
	const addr = `pgsecrets_project_secret.many[7]`
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			metas, err := env.Store.ListSecrets(context.Background(), "pooled")
			if err != nil || len(metas) != 0 {
				return fmt.Errorf("after destroy: %d secrets left (%v)", len(metas), err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{Config: manySecrets(env, 25, "pooled value")},
			{Config: manySecrets(env, 25, "pooled value"), PlanOnly: true},
			{
				PreConfig: func() { env.sqlRewriteSecret("pooled", "KEY_007", "changed by hand") },
				Config:    manySecrets(env, 25, "pooled value"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateId:           "pooled/KEY_007",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"value"},
			},
		},
	})
}
