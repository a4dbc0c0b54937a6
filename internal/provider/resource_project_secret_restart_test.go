package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// secretInSupport is a secret of the support project; attrs is added to
// the resource block.
func secretInSupport(env *testEnv, name, value, attrs string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "pgsecrets_project_secret" "support" {
  project = "support"
  name    = %s
  value   = %s
%s
}
`, hclString(name), hclString(value), attrs)
}

const supportAddr = "pgsecrets_project_secret.support"

// changedSince checks what `pgsecrets status --since` lists for the
// support project: the secrets marked requires_restart written after
// *since.
func changedSince(env *testEnv, since *time.Time, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		metas, err := env.Store.ChangedSince(context.Background(), "support", *since)
		if err != nil {
			return err
		}
		var got []string
		for _, m := range metas {
			got = append(got, m.Name)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("secrets to restart for since %s: %v, want %v", since.Format(time.RFC3339Nano), got, want)
		}
		return nil
	}
}

// SLACK_BOT_TOKEN needs a restart to take effect (the catalog says so): a
// value Terraform writes is marked, and a deploy pipeline asking
// `pgsecrets status --since` sees it.
func TestAccProjectSecretCatalogRestartNoticeReachesStatus(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	var since time.Time
	mark := func() { since = time.Now() }
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				PreConfig: mark,
				Config:    secretInSupport(env, "SLACK_BOT_TOKEN", "xoxb-123-456-AbC", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue(supportAddr, tfjsonpath.New("requires_restart"), knownvalue.Bool(true)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(supportAddr, tfjsonpath.New("requires_restart"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(supportAddr, tfjsonpath.New("category"), knownvalue.StringExact("slack")),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					storedRestart(env, "SLACK_BOT_TOKEN", true),
					changedSince(env, &since, "SLACK_BOT_TOKEN"),
				),
			},
			{
				// Nothing written since: nothing to restart for.
				PreConfig: mark,
				Config:    secretInSupport(env, "SLACK_BOT_TOKEN", "xoxb-123-456-AbC", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: changedSince(env, &since),
			},
			{
				// Turned off in the configuration, the rotation is not listed.
				PreConfig: mark,
				Config:    secretInSupport(env, "SLACK_BOT_TOKEN", "xoxb-789-012-DeF", "  requires_restart = false"),
				Check:     resource.ComposeAggregateTestCheckFunc(storedRestart(env, "SLACK_BOT_TOKEN", false), changedSince(env, &since)),
			},
		},
	})
}

// A name outside the catalog marked by an operator with `pgsecrets secret
// add --requires-restart`: a configuration that leaves requires_restart
// unset plans it back to false, visibly, and one that sets it keeps it.
func TestAccProjectSecretRestartFlagSetOutsideShowsInPlan(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	unset := secretInSupport(env, "SESSION_KEY", "s3cr3t", "")
	set := secretInSupport(env, "SESSION_KEY", "s3cr3t", "  requires_restart = true")
	markByCLI := func() {
		restart := true
		_, err := env.Store.PutSecret(context.Background(), store.PutSecretInput{
			Project: "support", Name: "SESSION_KEY", Value: []byte("s3cr3t"),
			RequiresRestart: &restart, ExpectedRevision: store.AnyRevision,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: unset,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(supportAddr, tfjsonpath.New("requires_restart"), knownvalue.Bool(false)),
				},
			},
			{
				PreConfig: markByCLI,
				Config:    unset,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(supportAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(supportAddr, tfjsonpath.New("requires_restart"), knownvalue.Bool(false)),
					},
				},
				Check: storedRestart(env, "SESSION_KEY", false),
			},
			{
				PreConfig: markByCLI,
				Config:    set,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: storedRestart(env, "SESSION_KEY", true),
			},
		},
	})
}

// storedRestart checks the restart flag the database holds for a support
// secret.
func storedRestart(env *testEnv, name string, want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		meta, err := env.Store.GetSecretMeta(context.Background(), "support", name)
		if err != nil {
			return err
		}
		if meta.RequiresRestart != want {
			return fmt.Errorf("support/%s has requires_restart = %t, want %t", name, meta.RequiresRestart, want)
		}
		return nil
	}
}
