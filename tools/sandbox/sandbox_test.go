// Package sandbox_test runs the README's operator quick start, as written,
// in the sandbox `make sandbox` opens.
package sandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The commands after `make sandbox` in the README run, pasted one after
// the other, and do what their comments say.
func TestReadmeSandboxCommandsRunAsWritten(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- The commands after `make sandbox` are run as written by tools/sandbox's test. -->\n```sh\n"
	start := strings.Index(string(readme), marker)
	if start < 0 {
		t.Fatal("README.md has no sandbox block after the marker comment")
	}
	block := string(readme)[start+len(marker):]
	block = block[:strings.Index(block, "```")]
	first, commands, ok := strings.Cut(block, "\n")
	if !ok || !strings.HasPrefix(first, "make sandbox") {
		t.Fatalf("the sandbox block starts with %q, not make sandbox", first)
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "tools/sandbox/run.sh"), "bash", "-euo", "pipefail", "-c", commands)
	cmd.Env = append(os.Environ(), "PGSECRETS_DATABASE_URL="+pgtest.NewDatabase(t), "PGSECRETS_ACTOR=readme")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's sandbox commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Created secret app/SLACK_BOT_TOKEN",
		"xoxb-1111-2222-sandbox\n",                 // run ... printenv
		"SLACK_BOT_TOKEN='xoxb-1111-2222-sandbox'", // render --format dotenv
		"verified",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
