package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/reencrypt"
)

// ciphertext keeps the stored ciphertext of billing/STRIPE_KEY in *into.
func ciphertext(env *testEnv, into *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		return env.pool.QueryRow(context.Background(),
			"select ciphertext from secrets where project = 'billing' and name = 'STRIPE_KEY'").Scan(into)
	}
}

// An older ciphertext of the same secret copied back into its row (a
// restored backup, a revoked token replayed), revision untouched, fails
// the next plan instead of passing as "no changes"; a re-encryption, which
// also changes the ciphertext under the same revision, does not.
func TestAccOlderCiphertextCopiedBackFailsThePlan(t *testing.T) {
	t.Parallel()
	for name, config := range map[string]func(env *testEnv, value string, version int) string{
		"value":    func(env *testEnv, value string, _ int) string { return secretWithValue(env, value, "") },
		"value_wo": secretWithWriteOnly,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			var revoked, current string
			accTest(t, resource.TestCase{
				Steps: []resource.TestStep{
					{Config: config(env, "sk_live_revoked", 1), Check: ciphertext(env, &revoked)},
					{Config: config(env, "sk_live_current", 2), Check: ciphertext(env, &current)},
					{
						PreConfig:   func() { env.Exec("update secrets set ciphertext = $1 where name = 'STRIPE_KEY'", revoked) },
						Config:      config(env, "sk_live_current", 2),
						ExpectError: regexp.MustCompile(`(?s)written for\s+revision 1.*at\s+revision 2.*copied\s+back`),
					},
					{
						// Put back, then re-encrypted under the project's new key:
						// the ciphertext changes, the value does not, the plan is empty.
						PreConfig: func() {
							env.Exec("update secrets set ciphertext = $1 where name = 'STRIPE_KEY'", current)
							opts := reencrypt.Options{Project: "billing", RotateProjectKey: true}
							if _, err := reencrypt.Run(context.Background(), env.Store, opts); err != nil {
								t.Fatal(err)
							}
						},
						Config:   config(env, "sk_live_current", 2),
						PlanOnly: true,
					},
				},
			})
		})
	}
}

// With strict = true (the CLI's --strict), a ciphertext that carries no
// binding, which opens in any row, fails the plan instead of being read;
// strict_bindings, its earlier name, still does the same, and setting both
// is refused.
func TestAccStrictRefusesUnboundCiphertexts(t *testing.T) {
	env := newTestEnv(t)
	withStrict := func(attrs string) string {
		config := secretWithValue(env, "sk_live_a", "")
		return strings.Replace(config, "provider \"pgsecrets\" {\n", "provider \"pgsecrets\" {\n  "+attrs+"\n", 1)
	}
	plant := func() {
		token, kid, err := env.Store.Keyring().Encrypt([]byte("sk_live_a"), "")
		if err != nil {
			t.Fatal(err)
		}
		env.Exec("update secrets set ciphertext = $1, kid = $2 where name = 'STRIPE_KEY'", token, kid)
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{Config: secretWithValue(env, "sk_live_a", "")},
			{PreConfig: plant, Config: secretWithValue(env, "sk_live_a", ""), PlanOnly: true}, // lenient: read, with a warning
			{Config: withStrict("strict = true"), PlanOnly: true, ExpectError: regexp.MustCompile(`carries\s+no\s+binding`)},
			{Config: withStrict("strict_bindings = true"), PlanOnly: true, ExpectError: regexp.MustCompile(`carries\s+no\s+binding`)},
			{Config: withStrict("strict = true\n  strict_bindings = true"), PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination.*strict_bindings`)},
			{Config: secretWithValue(env, "sk_live_a", ""), PlanOnly: true}, // what the test's destroy runs with
		},
	})
}
