package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// listedTimestamp is how timestamps appear in state: RFC 3339 in UTC.
var listedTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)

func TestAccProjectSecretsListsMetadataNeverValues(t *testing.T) {
	env := newTestEnv(t)
	const canary = "canary-listed-secret-a41e"
	ctx := context.Background()
	for _, in := range []store.PutSecretInput{
		{Project: "app", Name: "B_TOKEN", Value: []byte(canary + "-b"), Description: "webhook token", Category: "webhook"},
		{Project: "app", Name: "A_KEY", Value: []byte(canary + "-a"), Category: "ai"},
		{Project: "other", Name: "ELSEWHERE", Value: []byte(canary + "-o")},
	} {
		if _, err := env.Store.PutSecret(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	kid := env.projectKID("app")
	secret := func(name, description, category string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"name":        knownvalue.StringExact(name),
			"description": knownvalue.StringExact(description),
			"category":    knownvalue.StringExact(category),
			"kid":         knownvalue.StringExact(kid),
			"bound":       knownvalue.Bool(true),
			"revision":    knownvalue.Int64Exact(1),
			"created_at":  knownvalue.StringRegexp(listedTimestamp),
			"created_by":  knownvalue.StringExact("test"),
			"updated_at":  knownvalue.StringRegexp(listedTimestamp),
			"updated_by":  knownvalue.StringExact("test"),
		})
	}
	accTest(t, resource.TestCase{Steps: []resource.TestStep{
		{
			Config: env.ProviderConfig() + `
data "pgsecrets_project_secrets" "app" {
  project = "app"
}

data "pgsecrets_project_secrets" "empty" {
  project = "nothing-here"
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.pgsecrets_project_secrets.app", tfjsonpath.New("secrets"), knownvalue.ListExact([]knownvalue.Check{
					secret("A_KEY", "", "ai"),
					secret("B_TOKEN", "webhook token", "webhook"),
				})),
				statecheck.ExpectKnownValue("data.pgsecrets_project_secrets.empty", tfjsonpath.New("secrets"), knownvalue.ListSizeExact(0)),
			},
			Check: stateLacks(canary),
		},
	}})
}
