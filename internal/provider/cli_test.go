package provider

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testCLI is the Terraform or OpenTofu binary every acceptance test runs,
// as TestMain found it.
var testCLI cliBinary

type cliBinary struct {
	Path    string // absolute
	Name    string // "Terraform" or "OpenTofu"
	Version string // as `version` prints it, without the v
}

func (c cliBinary) String() string { return fmt.Sprintf("%s %s (%s)", c.Name, c.Version, c.Path) }

// openTofuRegistry is the host OpenTofu gives a provider source without
// one: pgsecrets/pgsecrets is registry.opentofu.org/pgsecrets/pgsecrets to
// OpenTofu, registry.terraform.io/pgsecrets/pgsecrets to Terraform.
const openTofuRegistry = "registry.opentofu.org"

// findTestCLI resolves the binary the tests run, TF_ACC_TERRAFORM_PATH (a
// path, or a name on PATH) else terraform on PATH, and asks it what it is.
// terraform-plugin-testing would otherwise download a Terraform when it
// finds none; a path that leads nowhere fails here, so a run meant for
// OpenTofu cannot quietly test something else.
func findTestCLI() (cliBinary, error) {
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if path == "" {
		found, err := exec.LookPath("terraform")
		if err != nil {
			return cliBinary{}, errors.New("terraform (1.11 or later) is not on PATH; install it, or set TF_ACC_TERRAFORM_PATH to a terraform or tofu binary (`make testacc-tofu` builds OpenTofu)")
		}
		path = found
	} else {
		found, err := exec.LookPath(path)
		if err != nil {
			return cliBinary{}, fmt.Errorf("TF_ACC_TERRAFORM_PATH=%s is not an executable: %v; point it at a terraform or tofu binary (an absolute path, or a name on PATH)", path, errors.Unwrap(err))
		}
		path = found
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return cliBinary{}, err
	}
	// The human output names the product; -json does not (OpenTofu
	// keeps Terraform's terraform_version key).
	out, err := exec.Command(path, "version").Output()
	if err != nil {
		return cliBinary{}, fmt.Errorf("%s version: %v; TF_ACC_TERRAFORM_PATH must name a terraform or tofu binary", path, err)
	}
	m := regexp.MustCompile(`(?m)^(Terraform|OpenTofu) v(\S+)$`).FindStringSubmatch(string(out))
	if m == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return cliBinary{}, fmt.Errorf("%s version printed %q, neither Terraform nor OpenTofu; TF_ACC_TERRAFORM_PATH must name a terraform or tofu binary", path, first)
	}
	return cliBinary{Path: path, Name: m[1], Version: m[2]}, nil
}

// useTestCLI points terraform-plugin-testing at cli. For OpenTofu, the
// provider the tests serve in-process must be registered under OpenTofu's
// registry host: the configurations name it as plain "pgsecrets", which
// OpenTofu reads as registry.opentofu.org/hashicorp/pgsecrets, and it
// attaches an unmanaged provider only under the exact address.
func useTestCLI(cli cliBinary) error {
	os.Setenv("TF_ACC_TERRAFORM_PATH", cli.Path)
	// A CLI configuration file that does not exist configures nothing,
	// but OpenTofu warns of it on stdout, ahead of the JSON the tests
	// read from `show -json`.
	if f := os.Getenv("TF_CLI_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}
	if cli.Name != "OpenTofu" {
		return nil
	}
	if host := os.Getenv("TF_ACC_PROVIDER_HOST"); host != "" && host != openTofuRegistry {
		return fmt.Errorf("TF_ACC_PROVIDER_HOST=%s with OpenTofu, which finds the provider under %s; unset it", host, openTofuRegistry)
	}
	os.Setenv("TF_ACC_PROVIDER_HOST", openTofuRegistry)
	return nil
}

// A run meant for OpenTofu whose TF_ACC_TERRAFORM_PATH leads nowhere, or
// to something else, stops with the fix instead of testing whatever
// terraform is on PATH.
func TestCLIPathThatIsNoTerraformOrOpenTofuStopsTheRun(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "tofu")
	for _, tc := range []struct{ path, want string }{
		{missing, "TF_ACC_TERRAFORM_PATH=" + missing + " is not an executable"},
		{"true", "neither Terraform nor OpenTofu"},
	} {
		t.Setenv("TF_ACC_TERRAFORM_PATH", tc.path)
		cli, err := findTestCLI()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "terraform or tofu binary") {
			t.Errorf("TF_ACC_TERRAFORM_PATH=%s: found %v, error %v; want an error saying %q and what to set", tc.path, cli, err, tc.want)
		}
	}
}
