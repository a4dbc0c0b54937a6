package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// The provider configured with an AWS KMS root key in root_keys, the same
// JSON as the CLI's file: apply, a quiet plan, drift written outside
// Terraform, the configured value written back. Not parallel: the test
// sets the AWS environment local-kms answers to.
func TestAccProjectSecretWithAWSKMSRootKey(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	env := newTestEnvWithRootKeys(t, "["+kms.Entry("prod-kms", kms.Alias)+"]")
	config := secretWithValue(env, "kms-configured", "under a KMS root")
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  storedValue(env, "kms-configured"),
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				PreConfig: func() { putAs(t, env.Store, "billing", "STRIPE_KEY", "changed outside") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				Check: storedValue(env, "kms-configured"),
			},
		},
	})
	if n := kms.Calls("Decrypt"); n == 0 {
		t.Fatal("the provider never called KMS: the root key was not the KMS one")
	}
	t.Logf("KMS calls over the whole test (test store and provider): Decrypt %d, Encrypt %d, DescribeKey %d",
		kms.Calls("Decrypt"), kms.Calls("Encrypt"), kms.Calls("DescribeKey"))
}
