package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccEphemeralResolvedConfigRendersOutsideState(t *testing.T) {
	env := newTestEnv(t)
	const canary = "canary-ephemeral-config-81c2"
	seedSecrets(t, env, "app", map[string]string{"OPENAI_API_KEY": canary})
	t.Setenv("PGSECRETS_ACC_EPHEMERAL_ENV", "from-env")
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
ephemeral "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config = jsonencode({
    openai = { apiKey = provider::pgsecrets::secret_ref("OPENAI_API_KEY") }
    region = provider::pgsecrets::secret_ref("PGSECRETS_ACC_EPHEMERAL_ENV")
    model  = provider::pgsecrets::secret_ref("MODEL", "gpt-4o")
  })
}

provider "echo" {
  data = {
    matches    = ephemeral.pgsecrets_resolved_config.app.rendered == jsonencode({ model = "gpt-4o", openai = { apiKey = "` + canary + `" }, region = "from-env" })
    references = ephemeral.pgsecrets_resolved_config.app.references
    sources    = ephemeral.pgsecrets_resolved_config.app.sources
  }
}

resource "echo" "seen" {}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("echo.seen", tfjsonpath.New("data"), knownvalue.ObjectExact(map[string]knownvalue.Check{
				"matches": knownvalue.Bool(true),
				"references": knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact("MODEL"), knownvalue.StringExact("OPENAI_API_KEY"), knownvalue.StringExact("PGSECRETS_ACC_EPHEMERAL_ENV"),
				}),
				"sources": knownvalue.MapExact(map[string]knownvalue.Check{
					"MODEL":                       knownvalue.StringExact("default"),
					"OPENAI_API_KEY":              knownvalue.StringExact("database"),
					"PGSECRETS_ACC_EPHEMERAL_ENV": knownvalue.StringExact("environment"),
				}),
			})),
		},
		Check: stateLacks(canary),
	}}}))
}

// A TF_LOG=trace run (Terraform core and the provider) that resolves
// configs and reads a secret, through the data source and both ephemeral
// resources, never logs a value.
func TestAccReadingSecretsTraceLogHasNoValue(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_ACC_LOG_PATH", logFile) // trace level, core and provider
	env := newTestEnv(t)
	const canaryDB, canaryEnv = "canary-read-db-5e7a01", "canary-read-env-c3d9f2"
	seedSecrets(t, env, "app", map[string]string{"FROM_DB": canaryDB})
	t.Setenv("PGSECRETS_ACC_TRACE_FROM_ENV", canaryEnv)
	accTest(t, withEcho(resource.TestCase{Steps: []resource.TestStep{{
		Config: env.ProviderConfig() + `
locals {
  config = jsonencode({
    db  = provider::pgsecrets::secret_ref("FROM_DB")
    env = provider::pgsecrets::secret_ref("PGSECRETS_ACC_TRACE_FROM_ENV")
  })
}

data "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config       = local.config
}

ephemeral "pgsecrets_resolved_config" "app" {
  project      = "app"
  env_fallback = true
  config       = local.config
}

ephemeral "pgsecrets_project_secret" "db" {
  project = "app"
  name    = "FROM_DB"
}

provider "echo" {
  data = [
    length(ephemeral.pgsecrets_resolved_config.app.rendered),
    length(ephemeral.pgsecrets_project_secret.db.value),
    length(data.pgsecrets_resolved_config.app.rendered),
  ]
}

resource "echo" "lengths" {}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("echo.lengths", tfjsonpath.New("data"), knownvalue.ListExact([]knownvalue.Check{
				knownvalue.Int64Exact(int64(len(`{"db":"` + canaryDB + `","env":"` + canaryEnv + `"}`))),
				knownvalue.Int64Exact(int64(len(canaryDB))),
				knownvalue.Int64Exact(int64(len(`{"db":"` + canaryDB + `","env":"` + canaryEnv + `"}`))),
			})),
		},
	}}}))
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("read trace log: %v", err)
	}
	if !strings.Contains(string(log), "pgsecrets_resolved_config") || !strings.Contains(string(log), "[TRACE]") {
		t.Fatalf("trace log %s has no trace of the provider (%d bytes); the test does not prove anything", logFile, len(log))
	}
	for _, line := range strings.Split(string(log), "\n") {
		for _, canary := range []string{canaryDB, canaryEnv} {
			if strings.Contains(line, canary) {
				t.Errorf("trace log contains a secret value (%.12s...): %.300s", canary, line)
			}
		}
	}
}
