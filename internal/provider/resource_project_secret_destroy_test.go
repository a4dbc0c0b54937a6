package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

func secretOnDestroy(env *testEnv, value, onDestroy string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_project_secret" "api" {
  project    = "billing"
  name       = "STRIPE_KEY"
  value      = %s
  on_destroy = %s
}
`, hclString(value), hclString(onDestroy))
}

// By default a destroyed secret can be brought back, with its value, as
// `pgsecrets secret undelete` does.
func TestAccProjectSecretDestroyedByDefaultCanBeUndeleted(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		CheckDestroy: func(s *terraform.State) error {
			if err := secretGone(env)(s); err != nil {
				return err
			}
			if _, err := env.Store.UndeleteSecret(context.Background(), "billing", "STRIPE_KEY"); err != nil {
				return fmt.Errorf("undelete after destroy: %w", err)
			}
			return storedValue(env, "sk_live_two")(s)
		},
		Steps: []resource.TestStep{
			{
				Config: secretWithValue(env, "sk_live_one", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("on_destroy"), knownvalue.StringExact("delete")),
				},
			},
			{Config: secretWithValue(env, "sk_live_two", "")},
		},
	})
}

// on_destroy = "destroy" removes the secret and every version for good:
// no history left, nothing to undelete. Changing on_destroy writes
// nothing.
func TestAccProjectSecretOnDestroyDestroyLeavesNothing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		CheckDestroy: func(s *terraform.State) error {
			if err := secretGone(env)(s); err != nil {
				return err
			}
			ctx := context.Background()
			if h, err := env.Store.SecretHistory(ctx, "billing", "STRIPE_KEY"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("history after destroy: %d versions (err %v), want none", len(h), err)
			}
			if _, err := env.Store.UndeleteSecret(ctx, "billing", "STRIPE_KEY"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("undelete after destroy: err %v, want not found", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{Config: secretOnDestroy(env, "sk_live_one", "delete")},
			{Config: secretOnDestroy(env, "sk_live_two", "delete")},
			{
				Config: secretOnDestroy(env, "sk_live_two", "destroy"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(secretAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("on_destroy"), knownvalue.StringExact("destroy")),
					statecheck.ExpectKnownValue(secretAddr, tfjsonpath.New("revision"), knownvalue.Int64Exact(2)),
				},
			},
		},
	})
}

func TestAccProjectSecretOnDestroyRefusesOtherValues(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      secretOnDestroy(env, "v", "purge"),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)on_destroy.*value must be one of.*"delete".*"destroy"`),
		}},
	})
}
