package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

func TestAccSecretRefFunctionJSONEncodesToReference(t *testing.T) {
	// A function needs no configured provider: no database here.
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: `
output "plain" {
  value = jsonencode(provider::pgsecrets::secret_ref("OPENAI_API_KEY"))
}

output "with_default" {
  value = jsonencode(provider::pgsecrets::secret_ref("LOG_LEVEL", "info"))
}

output "nested" {
  value = jsonencode({ providers = [{ apiKey = provider::pgsecrets::secret_ref("A") }] })
}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownOutputValue("plain", knownvalue.StringExact(`{"$secretRef":{"name":"OPENAI_API_KEY"}}`)),
			statecheck.ExpectKnownOutputValue("with_default", knownvalue.StringExact(`{"$secretRef":{"default":"info","name":"LOG_LEVEL"}}`)),
			statecheck.ExpectKnownOutputValue("nested", knownvalue.StringExact(`{"providers":[{"apiKey":{"$secretRef":{"name":"A"}}}]}`)),
		},
	}}})
}

func TestAccSecretRefFunctionRefusesEmptyNameAndSecondDefault(t *testing.T) {
	accTest(t, resource.TestCase{Steps: []resource.TestStep{
		{
			Config:      `output "x" { value = provider::pgsecrets::secret_ref("") }`,
			ExpectError: regexp.MustCompile(`secret_ref: the name is empty`),
		},
		{
			Config:      `output "x" { value = provider::pgsecrets::secret_ref("A", "b", "c") }`,
			ExpectError: regexp.MustCompile(`secret_ref: give at most one default`),
		},
	}})
}
