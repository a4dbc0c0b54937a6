package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/cli"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/storetest"
)

// firstRelease is the commit of the first release, 0.1.0 in CHANGELOG.md:
// the oldest provider whose state users may hold.
const (
	firstRelease        = "a3edd75c6b848069ac1b22f27139eeaac812b150"
	firstReleaseVersion = "0.1.0"
)

// A configuration applied by the first release, with its database, plans
// with no changes once the binary is upgraded and `pgsecrets migrate up`
// run, with refresh and without it (the state upgraders fill in what the
// first release's state lacks); then the upgraded provider writes as
// before, and takes pgsecrets_provider_defaults over as
// pgsecrets_model_defaults with a moved block.
func TestAccStateFromTheFirstReleasePlansWithNoChanges(t *testing.T) {
	w := newFirstReleaseWorld(t)
	// The first release's pgsecrets_provider_defaults, and the moved block
	// that takes it over as pgsecrets_model_defaults.
	const providerDefaults = `
resource "pgsecrets_provider_defaults" "shop" {
  project = "shop"
  chat    = { provider = "openai", model = "gpt-4.1" }
}
`
	const modelDefaults = `
resource "pgsecrets_model_defaults" "shop" {
  project = "shop"
  chat    = { provider = "openai", model = "gpt-4.1" }
}

moved {
  from = pgsecrets_provider_defaults.shop
  to   = pgsecrets_model_defaults.shop
}
`
	config := func(constraint, openAIKey string, openAIVersion int, flags, defaults string) string {
		return requirePgsecrets(constraint) + fmt.Sprintf(`
resource "pgsecrets_encryption_key" "primary" {
  state = "primary"
}

resource "pgsecrets_project_secret" "openai" {
  project          = "shop"
  name             = "OPENAI_API_KEY"
  value_wo         = %q
  value_wo_version = %d
  description      = "chat assistant"
  depends_on       = [pgsecrets_encryption_key.primary]
}

resource "pgsecrets_project_secret" "flags" {
  project    = "shop"
  name       = "FEATURE_FLAGS"
  value      = %q
  category   = "config"
  depends_on = [pgsecrets_encryption_key.primary]
}
`, openAIKey, openAIVersion, flags) + defaults
	}
	w.test(t, []resource.TestStep{
		w.firstReleaseApplies(config(firstReleaseVersion, "sk-first", 1, "beta=on", providerDefaults)),
		{
			PreConfig:                w.upgrade,
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Config:                   config("", "sk-first", 1, "beta=on", providerDefaults),
			// Plans without refresh, then with it: both must be empty.
			PlanOnly: true,
		},
		{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Config:                   config("", "sk-second", 2, "beta=off", modelDefaults),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("pgsecrets_project_secret.openai", plancheck.ResourceActionUpdate),
				plancheck.ExpectResourceAction("pgsecrets_project_secret.flags", plancheck.ResourceActionUpdate),
				plancheck.ExpectResourceAction("pgsecrets_encryption_key.primary", plancheck.ResourceActionNoop),
				plancheck.ExpectResourceAction("pgsecrets_model_defaults.shop", plancheck.ResourceActionNoop),
			}},
			Check: func(*terraform.State) error {
				got := storetest.Values(t, w.env.Store)
				if got["shop/OPENAI_API_KEY"] != "sk-second" || got["shop/FEATURE_FLAGS"] != "beta=off" {
					return fmt.Errorf("after the upgraded provider's apply, the store holds %d values, not the ones applied", len(got))
				}
				return nil
			},
		},
	})
}

// The first release stored no restart flag from Terraform, so a
// well-known secret it created that the catalog marks (SLACK_BOT_TOKEN) has
// none. The first plan after the upgrade shows that flag, and nothing
// else, changing to the catalog's; the apply stores it, value unchanged.
func TestAccFirstReleaseSecretTakesTheCatalogsRestartFlagOnUpgrade(t *testing.T) {
	w := newFirstReleaseWorld(t)
	config := func(constraint string) string {
		return requirePgsecrets(constraint) + `
resource "pgsecrets_project_secret" "slack" {
  project = "shop"
  name    = "SLACK_BOT_TOKEN"
  value   = "xoxb-1-first"
}
`
	}
	const slack = "pgsecrets_project_secret.slack"
	w.test(t, []resource.TestStep{
		w.firstReleaseApplies(config(firstReleaseVersion)),
		{
			PreConfig:                w.upgrade,
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Config:                   config(""),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(slack, plancheck.ResourceActionUpdate),
				plancheck.ExpectKnownValue(slack, tfjsonpath.New("requires_restart"), knownvalue.Bool(true)),
				plancheck.ExpectKnownValue(slack, tfjsonpath.New("value"), knownvalue.StringExact("xoxb-1-first")),
				plancheck.ExpectKnownValue(slack, tfjsonpath.New("category"), knownvalue.StringExact("slack")),
			}},
			Check: func(*terraform.State) error {
				meta, err := w.env.Store.GetSecretMeta(context.Background(), "shop", "SLACK_BOT_TOKEN")
				if err != nil {
					return err
				}
				if !meta.RequiresRestart {
					return fmt.Errorf("SLACK_BOT_TOKEN has no restart flag after the upgraded provider's apply")
				}
				return nil
			},
		},
	})
}

// firstReleaseWorld is a database migrated by the first release's
// `pgsecrets migrate up`, with the settings both binaries read in the
// environment, and that release's provider where `terraform init` installs
// it from.
type firstReleaseWorld struct {
	t        *testing.T
	url      string
	rootKeys string
	env      *testEnv // once upgraded
}

func newFirstReleaseWorld(t *testing.T) *firstReleaseWorld {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Fatal("acceptance test needs TF_ACC=1 (run `make test`, or TF_ACC=1 go test ./internal/provider/)")
	}
	old := buildFirstRelease(t)
	// The provider served by the test takes the address the first
	// release was installed at, as an upgraded binary would. The host is
	// spelled out (here and in requirePgsecrets) so that OpenTofu, whose
	// default registry is another, finds the same provider.
	t.Setenv("TF_ACC_PROVIDER_HOST", registryHost)
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "pgsecrets")
	w := &firstReleaseWorld{t: t, url: pgtest.NewDatabase(t), rootKeys: newRootKeys(t)}
	t.Setenv("PGSECRETS_DATABASE_URL", w.url)
	t.Setenv("PGSECRETS_ROOT_KEYS", w.rootKeys)
	t.Setenv("PGSECRETS_SCHEMA", testSchema)
	if out, err := exec.Command(old, "migrate", "up").CombinedOutput(); err != nil {
		t.Fatalf("migrate up by the first release: %v\n%s", err, out)
	}
	return w
}

// firstReleaseApplies is the step where the first release applies config.
func (w *firstReleaseWorld) firstReleaseApplies(config string) resource.TestStep {
	return resource.TestStep{
		ExternalProviders: map[string]resource.ExternalProvider{
			"pgsecrets": {Source: providerAddress, VersionConstraint: firstReleaseVersion},
		},
		Config: config,
	}
}

// upgrade is what an operator does after installing this binary: its
// `pgsecrets migrate up`.
func (w *firstReleaseWorld) upgrade() {
	t := w.t
	var out bytes.Buffer
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
	if code := cli.Execute(context.Background(), ios, "test", []string{"migrate", "up"}); code != 0 {
		t.Fatalf("migrate up after the upgrade: exit %d\n%s", code, out.String())
	}
	w.env = openTestEnv(t, w.url, w.rootKeys)
}

func (w *firstReleaseWorld) test(t *testing.T, steps []resource.TestStep) {
	t.Helper()
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.RequireAbove(minTerraform)},
		Steps:                  steps,
	})
}

// The provider's address, and the registry host it names.
const providerAddress = Address

var registryHost, _, _ = strings.Cut(providerAddress, "/")

// requirePgsecrets is the terraform block requiring providerAddress, at
// version when given. The provider block takes its settings from the
// environment.
func requirePgsecrets(version string) string {
	constraint := ""
	if version != "" {
		constraint = fmt.Sprintf("version = %q", version)
	}
	return fmt.Sprintf(`
terraform {
  required_providers {
    pgsecrets = {
      source = %q
      %s
    }
  }
}

provider "pgsecrets" {}
`, providerAddress, constraint)
}

// buildFirstRelease builds the first release's provider from the
// repository's history into a filesystem mirror, points Terraform's CLI
// configuration at it, and returns the binary (which is also that
// release's CLI).
func buildFirstRelease(t *testing.T) string {
	t.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("the upgrade test builds the first release from this repository's history, and git finds no repository here: %v", err)
	}
	repo := strings.TrimSpace(string(top))
	if err := exec.Command("git", "-C", repo, "cat-file", "-e", firstRelease+"^{commit}").Run(); err != nil {
		t.Fatalf("commit %s, the first release, is not in this clone: the upgrade test builds it from the history; fetch it (git fetch --unshallow)", firstRelease)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	archive := filepath.Join(dir, "first-release.tar")
	if out, err := exec.Command("git", "-C", repo, "archive", "-o", archive, firstRelease).CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", firstRelease, err, out)
	}
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", archive, "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("unpack the first release: %v\n%s", err, out)
	}

	// The unpacked layout of a provider mirror: HOST/NAMESPACE/TYPE/VERSION/OS_ARCH.
	mirror := filepath.Join(dir, "mirror")
	platform := filepath.Join(mirror, filepath.FromSlash(providerAddress), firstReleaseVersion, runtime.GOOS+"_"+runtime.GOARCH)
	bin := filepath.Join(platform, "terraform-provider-pgsecrets_v"+firstReleaseVersion)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+firstReleaseVersion, "-o", bin, ".")
	build.Dir = src
	// As the release was built: without cgo, by its own go.mod alone.
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the first release (%s): %v\n%s", firstRelease, err, out)
	}

	cliConfig := filepath.Join(dir, "terraform.rc")
	rc := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %s
    include = [%s]
  }
}
`, hclString(mirror), hclString(providerAddress))
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cliConfig)
	return bin
}
