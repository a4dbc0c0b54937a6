package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// withEcho adds terraform-plugin-testing's echo provider, the way to look
// at ephemeral values, which cannot be outputs or stored in state.
func withEcho(tc resource.TestCase) resource.TestCase {
	tc.ProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
		"echo": echoprovider.NewProviderServer(),
	}
	return tc
}

// stateLacks fails when any attribute in state contains text.
func stateLacks(text string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, m := range s.Modules {
			for addr, r := range m.Resources {
				for k, v := range r.Primary.Attributes {
					if strings.Contains(v, text) {
						return &leakError{where: addr + "." + k}
					}
				}
			}
		}
		return nil
	}
}

type leakError struct{ where string }

func (e *leakError) Error() string { return "canary value found in state at " + e.where }

func TestAccEphemeralProjectSecretReadsValueOutsideState(t *testing.T) {
	env := newTestEnv(t)
	const canary = "canary-ephemeral-secret-3b9f"
	seedSecrets(t, env, "app", map[string]string{"API_TOKEN": canary})
	kid := env.projectKID("app")
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
ephemeral "pgsecrets_project_secret" "token" {
  project = "app"
  name    = "API_TOKEN"
}

provider "echo" {
  data = {
    value_length = length(ephemeral.pgsecrets_project_secret.token.value)
    matches      = ephemeral.pgsecrets_project_secret.token.value == "` + canary + `"
    revision     = ephemeral.pgsecrets_project_secret.token.revision
    kid          = ephemeral.pgsecrets_project_secret.token.kid
  }
}

resource "echo" "seen" {}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("echo.seen", tfjsonpath.New("data"), knownvalue.ObjectExact(map[string]knownvalue.Check{
				"value_length": knownvalue.Int64Exact(int64(len(canary))),
				"matches":      knownvalue.Bool(true),
				"revision":     knownvalue.Int64Exact(1),
				"kid":          knownvalue.StringExact(kid),
			})),
		},
		// Only derived facts went to state through echo: the value itself never did.
		Check: stateLacks(canary),
	}}}))
}

func TestAccEphemeralProjectSecretMissingNamesTheFix(t *testing.T) {
	env := newTestEnv(t)
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
ephemeral "pgsecrets_project_secret" "token" {
  project = "app"
  name    = "NOT_THERE"
}

provider "echo" {
  data = ephemeral.pgsecrets_project_secret.token.revision
}

resource "echo" "seen" {}
`,
		ExpectError: regexp.MustCompile(`(?s)Secret not found.*secret "app/NOT_THERE" not found.*pgsecrets secret add\s+--project app\s+--name NOT_THERE`),
	}}}))
}
