package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/rootkeys"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// newStandbyTestEnv is newTestEnv on a primary with a hot standby.
func newStandbyTestEnv(t *testing.T) (*testEnv, *storetest.StandbyDB) {
	t.Helper()
	base := newTestEnv(t) // only for its root keys; its database goes unused
	db := storetest.NewStandbyDB(t)
	ring, err := rootkeys.Load([]byte(base.RootKeys))
	if err != nil {
		t.Fatal(err)
	}
	s := db.Open(t, ring, "test")
	t.Cleanup(func() { testAccProvider.(*pgsecretsProvider).stores.closeWhere(db.URL) })
	return &testEnv{t: t, DatabaseURL: db.URL, Schema: db.Config.Schema, RootKeys: base.RootKeys, Store: s, pool: db.Pool}, db
}

// With read_url, a plan reads the standby: a data source shows what the
// standby has (a moment old), consistent = true what the primary has, and
// a refresh that finds the standby behind state (a secret created a moment
// ago, not there yet) asks the primary instead of planning to create it
// again.
func TestAccReadURLServesPlansFromTheStandbyWithoutGoingBehindState(t *testing.T) {
	env, db := newStandbyTestEnv(t)
	seedSecrets(t, env, "app", map[string]string{"OTHER": "o1"})
	db.Cluster.WaitReplayed(t)
	db.PauseReplay(t)
	config := fmt.Sprintf(`
provider "pgsecrets" {
  database_url = %s
  read_url     = %s
  root_keys    = %s
  schema       = %s
}

resource "pgsecrets_project_secret" "token" {
  project = "app"
  name    = "TOKEN"
  value   = "t1"
}

data "pgsecrets_resolved_config" "standby" {
  project = "app"
  config  = jsonencode({ other = provider::pgsecrets::secret_ref("OTHER") })
}

data "pgsecrets_resolved_config" "primary" {
  project    = "app"
  consistent = true
  config     = jsonencode({ other = provider::pgsecrets::secret_ref("OTHER") })
}
`, hclString(env.DatabaseURL), hclString(db.StandbyURL), hclString(env.RootKeys), hclString(env.Schema))
	accTest(t, resource.TestCase{Steps: []resource.TestStep{
		{
			PreConfig: func() {
				if _, err := env.Store.PutSecret(context.Background(), store.PutSecretInput{Project: "app", Name: "OTHER", Value: []byte("o2"), ExpectedRevision: store.AnyRevision}); err != nil {
					t.Fatal(err)
				}
			},
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.pgsecrets_resolved_config.standby", tfjsonpath.New("rendered"), knownvalue.StringExact(`{"other":"o1"}`)),
				statecheck.ExpectKnownValue("data.pgsecrets_resolved_config.primary", tfjsonpath.New("rendered"), knownvalue.StringExact(`{"other":"o2"}`)),
			},
		},
		{
			// A provider that has written nothing reads the standby, which
			// has not replayed TOKEN's creation: the refresh must not lose it.
			PreConfig: func() { testAccProvider.(*pgsecretsProvider).stores.closeWhere(db.URL) },
			Config:    config,
			PlanOnly:  true,
		},
	}})
}
