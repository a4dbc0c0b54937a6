package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/pgtest"
)

// sopsFiles are the same secrets in the three syntaxes sops encrypts, as a
// team keeps them: dotenv in sops's own form (one NAME=value a line, line
// breaks written \n), JSON, and YAML.
func sopsFiles(t *testing.T, values []hardValue) map[string]string {
	var env, js, yml strings.Builder
	js.WriteString("{\n")
	for i, v := range values {
		fmt.Fprintf(&env, "%s=%s\n", v.name, strings.ReplaceAll(v.value, "\n", `\n`))
		sep := ","
		if i == len(values)-1 {
			sep = ""
		}
		fmt.Fprintf(&js, "  %q: %s%s\n", v.name, jsonString(t, v.value), sep)
		fmt.Fprintf(&yml, "%s: %s\n", v.name, jsonString(t, v.value)) // a JSON string is a YAML double-quoted scalar
	}
	js.WriteString("}\n")
	return map[string]string{"dotenv": env.String(), "json": js.String(), "yaml": yml.String()}
}

// The documented sops path, with the real sops and an age key: encrypt a
// file of each syntax, decrypt it to stdout, pipe it into import. Every
// value arrives exactly; the still-encrypted file is refused.
func TestImportSopsDecryptedFilesThroughAPipe(t *testing.T) {
	// A missing tool fails the test rather than skipping it: the sops path
	// is documented, and a skipped test would stop proving it.
	sops := pgtest.GoTool(t, "sops", "go install github.com/getsops/sops/v3/cmd/sops@v3.13.3")
	ageKeygen := pgtest.GoTool(t, "age-keygen", "go install filippo.io/age/cmd/...@v1.3.2")

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "age.key")
	if out, err := exec.Command(ageKeygen, "-o", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`# public key: (age1[0-9a-z]+)`).FindSubmatch(key)
	if m == nil {
		t.Fatalf("no public key in the age key file")
	}
	recipient := string(m[1])

	runSops := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(sops, args...)
		cmd.Dir = dir // no .sops.yaml of the developer's applies
		cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+keyFile)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sops %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}

	values := hardValues()
	for syntax, plain := range sopsFiles(t, values) {
		t.Run(syntax, func(t *testing.T) {
			s := newSession(t)
			plainFile := filepath.Join(dir, "secrets."+syntax)
			if err := os.WriteFile(plainFile, []byte(plain), 0o600); err != nil {
				t.Fatal(err)
			}
			encrypted := runSops("--encrypt", "--age", recipient, "--input-type", syntax, "--output-type", syntax, plainFile)
			if bytes.Contains(encrypted, []byte("CANARY")) {
				t.Fatalf("sops left a value in the clear")
			}
			encFile := filepath.Join(dir, "secrets.enc."+syntax)
			if err := os.WriteFile(encFile, encrypted, 0o600); err != nil {
				t.Fatal(err)
			}

			// Forgetting to decrypt is refused, with the command that fixes it.
			wantFailure(t, s.run("", "import", "--project", "app", "--format", syntax, encFile), 1, "still encrypted by sops", "sops -d FILE | pgsecrets import")

			// sops -d secrets.yaml | pgsecrets import --project app --format yaml -
			// (a dotenv file goes through --output-type json: sops writes its
			// dotenv values unquoted, which no dotenv reader takes back exactly)
			decrypt, format := []string{"--decrypt", "--input-type", syntax}, syntax
			if syntax == "dotenv" {
				decrypt, format = append(decrypt, "--output-type", "json"), "json"
			}
			out := runSops(append(decrypt, encFile)...)
			r := s.runReading(bytes.NewReader(out), "import", "--project", "app", "--format", format, "-")
			if r.code != 0 {
				t.Fatalf("import:\n%s", r)
			}
			if !strings.Contains(r.stdout, "5 imported, 0 replaced, 0 skipped, 0 invalid, from - into project app.") {
				t.Errorf("output:\n%s", r.stdout)
			}
			s.checkStored(r, nil, values)
		})
	}
}
