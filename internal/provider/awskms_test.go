package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
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

// A terraform apply of 1,000 secrets in one project, with a KMS root
// first, unwraps that project's key once in the provider's process: one
// Decrypt for the project key (made by another process, so the provider
// must open it) and one for the audit key, however many secrets. The
// in-process provider serves every Terraform command of the test, so the
// whole test is one provider process.
func TestAccThousandSecretsInOneProjectWithAWSKMSRootUnwrapOnce(t *testing.T) {
	kms := pgtest.StartLocalKMS(t)
	env := newTestEnvWithRootKeys(t, "["+kms.Entry("prod-kms", kms.Alias)+"]")
	if _, err := env.Store.PutSecret(t.Context(), store.PutSecretInput{Project: "app", Name: "MADE_ELSEWHERE",
		Value: []byte("the project key exists before the apply"), ExpectedRevision: store.AnyRevision}); err != nil {
		t.Fatal(err)
	}
	config := env.ProviderConfig() + `
resource "pgsecrets_project_secret" "many" {
  count   = 1000
  project = "app"
  name    = format("SECRET_%04d", count.index)
  value   = format("value-%d", count.index)
}
`
	kms.ResetCalls()
	start := time.Now()
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			// The harness plans again after the apply and fails on any
			// change; the secrets are destroyed at the end.
			Config: config,
			Check: resource.ComposeTestCheckFunc(
				storedValues(env, "app", map[string]string{"SECRET_0000": "value-0", "SECRET_0500": "value-500", "SECRET_0999": "value-999"}),
				func(*terraform.State) error {
					var n int
					if err := env.pool.QueryRow(t.Context(), "select count(*) from secrets where project = 'app'").Scan(&n); err != nil {
						return err
					}
					if n != 1001 {
						return fmt.Errorf("%d secrets in app after the apply, want 1,001", n)
					}
					return nil
				}),
		}},
	})
	took := time.Since(start)
	decrypts := kms.Calls("Decrypt")
	t.Logf("apply of 1,000 secrets, the plan after it and their destroy in %s: KMS Decrypt %d, Encrypt %d, DescribeKey %d",
		took.Round(time.Second), decrypts, kms.Calls("Encrypt"), kms.Calls("DescribeKey"))
	if decrypts > 2 {
		t.Errorf("%d Decrypt calls, want the project key once and the audit key once", decrypts)
	}
	if e := kms.Calls("Encrypt"); e != 0 {
		t.Errorf("%d Encrypt calls for writes under an existing project key", e)
	}
}
