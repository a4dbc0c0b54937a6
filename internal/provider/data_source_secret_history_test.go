package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const historyAddr = "data.pgsecrets_secret_history.stripe"

func secretHistoryConfig(env *testEnv, name string) string {
	return env.ProviderConfig() + `
data "pgsecrets_secret_history" "stripe" {
  project = "billing"
  name    = "` + name + `"
}
`
}

// listedVersion is the check of one listed version.
func listedVersion(revision int64, action, by string, current, deleted bool) knownvalue.Check {
	var replaced knownvalue.Check = knownvalue.NotNull()
	if current {
		replaced = knownvalue.Null()
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"revision":    knownvalue.Int64Exact(revision),
		"kid":         knownvalue.NotNull(),
		"action":      knownvalue.StringExact(action),
		"written_at":  knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)),
		"written_by":  knownvalue.StringExact(by),
		"current":     knownvalue.Bool(current),
		"deleted":     knownvalue.Bool(deleted),
		"replaced_at": replaced,
	})
}

// The history of a secret, newest first, with who wrote each revision, and
// never a value in state; after a delete, the kept value is listed as
// deleted.
func TestAccSecretHistoryListsRevisionsWithoutValues(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	env := newTestEnv(t)
	const v1, v2, v3 = "canary-history-1a2b", "canary-history-3c4d", "canary-history-5e6f"
	env.putSecret("billing", "STRIPE_KEY", v1)
	env.putSecret("billing", "STRIPE_KEY", v2)
	putAs(t, env.storeAs("alice@ops-1"), "billing", "STRIPE_KEY", v3)
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: secretHistoryConfig(env, "STRIPE_KEY"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(historyAddr, tfjsonpath.New("versions"), knownvalue.ListExact([]knownvalue.Check{
						listedVersion(3, "update", "alice@ops-1", true, false),
						listedVersion(2, "update", "test", false, false),
						listedVersion(1, "create", "test", false, false),
					})),
				},
				Check: stateFilesLack(tmp, v1, v2, v3),
			},
			{
				PreConfig: func() {
					if err := env.Store.DeleteSecret(context.Background(), "billing", "STRIPE_KEY", 3); err != nil {
						t.Fatal(err)
					}
				},
				Config: secretHistoryConfig(env, "STRIPE_KEY"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(historyAddr, tfjsonpath.New("versions"), knownvalue.ListExact([]knownvalue.Check{
						listedVersion(3, "update", "alice@ops-1", false, true),
						listedVersion(2, "update", "test", false, false),
						listedVersion(1, "create", "test", false, false),
					})),
				},
				Check: stateFilesLack(tmp, v1, v2, v3),
			},
			{
				Config:      secretHistoryConfig(env, "NEVER_WRITTEN"),
				ExpectError: regexp.MustCompile(`(?s)billing/NEVER_WRITTEN has no revisions.*pgsecrets secret\s+list`),
			},
		},
	})
}

// pgsecrets_secret_versions, the data source's earlier name, still reads
// the same list.
func TestAccSecretVersionsIsTheEarlierNameOfSecretHistory(t *testing.T) {
	env := newTestEnv(t)
	env.putSecret("billing", "STRIPE_KEY", "v1")
	env.putSecret("billing", "STRIPE_KEY", "v2")
	both := secretHistoryConfig(env, "STRIPE_KEY") + `
data "pgsecrets_secret_versions" "stripe" {
  project = "billing"
  name    = "STRIPE_KEY"
}
`
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: both,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.CompareValuePairs(historyAddr, tfjsonpath.New("versions"), "data.pgsecrets_secret_versions.stripe", tfjsonpath.New("versions"), compare.ValuesSame()),
			statecheck.ExpectKnownValue(historyAddr, tfjsonpath.New("versions").AtSliceIndex(0).AtMapKey("revision"), knownvalue.Int64Exact(2)),
		},
	}}})
}
