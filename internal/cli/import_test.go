package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/secretsource"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// hardValue is one value every source must carry exactly.
type hardValue struct{ name, value string }

// hardValues are what breaks naive importers: line breaks (a trailing
// one too), both quotes and a backslash, shell syntax, non-ASCII, and
// the largest value the store takes.
func hardValues() []hardValue {
	var big strings.Builder
	for big.Len() < store.MaxValueBytes {
		big.WriteString("CANARYbig \"q\" 'q' $X é✓ ")
	}
	return []hardValue{
		{"PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6\n-----END PRIVATE KEY-----\n"},
		{"QUOTED", `CANARY it's "quoted" and \ back`},
		{"SHELL_LIKE", "CANARY $HOME ${PATH} $(id) `id` #not-a-comment"},
		{"UNICODE", "CANARY héllo wörld ✓ 日本語 🔑"},
		{"BIG", big.String()[:store.MaxValueBytes]},
	}
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkStored reads every value back with `secret get` and compares it
// byte for byte; no other output of the import may hold a value.
func (s *session) checkStored(r result, names map[string]string, values []hardValue) {
	s.t.Helper()
	if strings.Contains(r.stdout+r.stderr, "CANARY") {
		s.t.Fatalf("a value was printed:\n%s", r)
	}
	for _, v := range values {
		name := v.name
		if n, ok := names[v.name]; ok {
			name = n
		}
		got := s.mustRun("", "secret", "get", "--project", "app", "--name", name).stdout
		if got != v.value {
			shown := got
			if len(shown) > 80 {
				shown = shown[:80] + "..."
			}
			s.t.Errorf("%s stored as %q (%d bytes), want %d bytes", name, shown, len(got), len(v.value))
		}
	}
}

// The shape `vault kv get -format=json secret/billing` prints for a KV v2
// secret (https://developer.hashicorp.com/vault/docs/commands/kv/get, and
// the KV v2 read response, /v1/secret/data/:path, it wraps).
func vaultKVGet(t *testing.T, values []hardValue, extra string) string {
	var data []string
	for _, v := range values {
		data = append(data, fmt.Sprintf("      %q: %s", v.name, jsonString(t, v.value)))
	}
	return `{
  "request_id": "6cbe3e4e-1a1c-6f1c-2c4a-3c5e1a8d9b52",
  "lease_id": "",
  "lease_duration": 0,
  "renewable": false,
  "data": {
    "data": {
` + strings.Join(data, ",\n") + extra + `
    },
    "metadata": {
      "created_time": "2024-05-02T09:14:33.812345Z",
      "custom_metadata": {"owner": "billing-team"},
      "deletion_time": "",
      "destroyed": false,
      "version": 3
    }
  },
  "warnings": null
}
`
}

func TestImportVaultKVGetStoresDataDataExactly(t *testing.T) {
	s := newSession(t)
	values := hardValues()
	file := writeFile(t, "vault.json", vaultKVGet(t, values, `,
      "db.url": "postgres://CANARY@db/app",
      "api key": "CANARYspace"`))

	r := s.run("", "import", "--project", "app", file)
	wantFailure(t, r, 1, "1 secret(s) of "+file+" are invalid")
	for _, want := range []string{
		"data.data.PRIVATE_KEY  PRIVATE_KEY  imported",
		`data.data["db.url"]    db.url       imported  -         not an environment variable name, so pgsecrets run will refuse it; --env-names --upper would name it DB_URL`,
		`data.data["api key"]   api key      invalid   -         secret name "api key" is not valid: use letters, digits, '_', '.', '-', starting with a letter or digit, at most 128 characters; --env-names --upper would name it API_KEY`,
		"6 imported, 0 replaced, 0 skipped, 1 invalid, from " + file + " into project app.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	s.checkStored(r, nil, values)

	// Vault's version is kept in the description; its custom metadata is
	// not (see docs/migrating.md).
	list := s.mustRun("", "secret", "list", "--project", "app", "--output", "json").stdout
	if !strings.Contains(list, `"description": "imported from vault.json (Vault KV v2 (vault kv get -format=json), version 3)"`) {
		t.Errorf("description not kept:\n%s", list)
	}
	// One audit event per stored secret, none with a value.
	audit := s.mustRun("", "audit", "export", "--action", "secret.create").stdout
	if n := strings.Count(audit, "\n"); n != 6 {
		t.Errorf("%d secret.create events, want 6:\n%s", n, audit)
	}
	if strings.Contains(audit, "CANARY") {
		t.Errorf("audit holds a value:\n%s", audit)
	}
}

// `vkv export -p secret -f json` (github.com/FalcoSuessgott/vkv,
// docs/export: directories end in "/", secrets map keys to values) is the
// dump of a whole mount. The same key at two paths collides until
// --with-path keeps the paths in the names.
func TestImportVaultDumpNamesByPathOnRequest(t *testing.T) {
	s := newSession(t)
	values := hardValues()
	var inner []string
	for _, v := range values {
		inner = append(inner, fmt.Sprintf("%q: %s", strings.ToLower(v.name), jsonString(t, v.value)))
	}
	file := writeFile(t, "dump.json", `{
  "secret/": {
    "billing": {"password": "CANARYone"},
    "sub/": {
      "db": {"password": "CANARYtwo", `+strings.Join(inner, ", ")+`}
    }
  }
}`)
	r := s.run("", "import", "--project", "app", file)
	wantFailure(t, r, 1, "password (secret/billing:password) and password (secret/sub/db:password) both become the secret name password", "--with-path", "nothing was imported")
	if out := s.mustRun("", "secret", "list", "--project", "app").stdout; out != "" {
		t.Fatalf("secrets were written:\n%s", out)
	}

	r = s.mustRun("", "import", "--project", "app", "--with-path", "--env-names", "--upper", file)
	if !strings.Contains(r.stdout, "secret/sub/db:password     SUB_DB_PASSWORD     imported") {
		t.Errorf("output:\n%s", r.stdout)
	}
	names := map[string]string{}
	for _, v := range values {
		names[v.name] = "SUB_DB_" + v.name
	}
	s.checkStored(r, names, values)
	if got := s.mustRun("", "secret", "get", "--project", "app", "--name", "BILLING_PASSWORD").stdout; got != "CANARYone" {
		t.Errorf("BILLING_PASSWORD = %q", got)
	}
}

// `doppler secrets download --no-file --format json` prints one flat
// object, Doppler's own DOPPLER_CONFIG, DOPPLER_ENVIRONMENT and
// DOPPLER_PROJECT included (https://docs.doppler.com/docs/cli, "secrets
// download"); --format env prints NAME="value" lines.
func TestImportDopplerDownloadSkipsDopplersOwnSettings(t *testing.T) {
	s := newSession(t)
	values := hardValues()
	fields := []string{`"DOPPLER_CONFIG":"prd"`, `"DOPPLER_ENVIRONMENT":"prd"`, `"DOPPLER_PROJECT":"billing"`}
	for _, v := range values {
		fields = append(fields, fmt.Sprintf("%q:%s", v.name, jsonString(t, v.value)))
	}
	r := s.runReading(strings.NewReader("{"+strings.Join(fields, ",")+"}"), "import", "--project", "app", "--format", "json", "-")
	if r.code != 0 {
		t.Fatalf("import:\n%s", r)
	}
	for _, want := range []string{
		"DOPPLER_CONFIG       DOPPLER_CONFIG       skipped   -         set by Doppler to name its project and config, not a secret of the application",
		"5 imported, 0 replaced, 3 skipped, 0 invalid, from - into project app.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	s.checkStored(r, nil, values)

	env := "DOPPLER_CONFIG=\"prd\"\nDOPPLER_ENVIRONMENT=\"prd\"\nDOPPLER_PROJECT=\"billing\"\nSTRIPE_SECRET_KEY=\"sk_live_CANARYstripe\"\n"
	r = s.mustRun(env, "import", "--project", "app", "--format", "env", "-")
	s.checkStored(r, nil, []hardValue{{"STRIPE_SECRET_KEY", "sk_live_CANARYstripe"}})
}

// `infisical export --format json` prints a JSON list of the CLI's
// SingleEnvironmentVariable (github.com/Infisical/infisical,
// cli/packages/models/cli.go; cli/packages/cmd/export.go, formatAsJson):
// key, workspace, value, type, _id, secretPath, tags, comment, Etag.
func TestImportInfisicalExportKeepsCommentsSkipsPersonalOverrides(t *testing.T) {
	s := newSession(t)
	values := hardValues()
	var items []string
	for i, v := range values {
		comment := ""
		if i == 0 {
			comment = "GitHub App key of the billing bot"
		}
		items = append(items, fmt.Sprintf(`{"key":%q,"workspace":"6630f1c2b0a4d2e5f1a2b3c4","value":%s,"type":"shared","_id":"6630f1c2b0a4d2e5f1a2b3d%d","secretPath":"/","tags":[{"id":"t1","name":"prod","slug":"prod","color":"#ff0000"}],"comment":%q,"Etag":"","skipMultilineEncoding":false}`,
			v.name, jsonString(t, v.value), i, comment))
	}
	items = append(items, `{"key":"QUOTED","workspace":"w","value":"CANARYmine","type":"personal","_id":"x","secretPath":"/","tags":[],"comment":"","Etag":"","skipMultilineEncoding":false}`)
	file := writeFile(t, "infisical.json", "["+strings.Join(items, ",")+"]")

	// A key twice is refused, even when one is a personal override: which
	// value the application ran with is not something to guess.
	r := s.run("", "import", "--project", "app", file)
	wantFailure(t, r, 1, "QUOTED appears twice ([1] QUOTED and [5] QUOTED)", "nothing was imported")

	items = items[:len(items)-1]
	items = append(items, `{"key":"MY_OWN","workspace":"w","value":"CANARYmine","type":"personal","_id":"x","secretPath":"/","tags":[],"comment":"","Etag":"","skipMultilineEncoding":false}`)
	file = writeFile(t, "infisical.json", "["+strings.Join(items, ",")+"]")
	r = s.mustRun("", "import", "--project", "app", file)
	if !strings.Contains(r.stdout, "[5] MY_OWN       MY_OWN       skipped   -         an Infisical personal override, not the shared value; export with --secret-overriding=false") {
		t.Errorf("output:\n%s", r.stdout)
	}
	s.checkStored(r, nil, values)
	list := s.mustRun("", "secret", "list", "--project", "app", "--output", "json").stdout
	if !strings.Contains(list, `"description": "GitHub App key of the billing bot"`) {
		t.Errorf("the comment is not the description:\n%s", list)
	}
}

// A Kubernetes Secret manifest (kubectl get secret -o yaml, or one written
// by hand): data is base64, stringData plain
// (https://kubernetes.io/docs/concepts/configuration/secret/).
func TestImportKubernetesSecretDecodesData(t *testing.T) {
	s := newSession(t)
	values := hardValues()
	var data []string
	for _, v := range values[1:] {
		data = append(data, fmt.Sprintf("  %s: %s", v.name, base64.StdEncoding.EncodeToString([]byte(v.value))))
	}
	manifest := `apiVersion: v1
kind: Secret
metadata:
  name: billing
  namespace: prod
  labels:
    app: billing
type: Opaque
data:
` + strings.Join(data, "\n") + `
stringData:
  PRIVATE_KEY: |
    -----BEGIN PRIVATE KEY-----
    MC4CAQAwBQYDK2VwBCIEIJ+DYvh6
    -----END PRIVATE KEY-----
`
	r := s.mustRun("", "import", "--project", "app", writeFile(t, "secret.yaml", manifest))
	if !strings.Contains(r.stdout, "stringData.PRIVATE_KEY  PRIVATE_KEY  imported") {
		t.Errorf("output:\n%s", r.stdout)
	}
	s.checkStored(r, nil, values)
}

// A nested value is refused with its key path, or stored as JSON text
// with --nested json; the report lists names and categories in a dry run.
func TestImportNestedValueRefusedUnlessStoredAsJSON(t *testing.T) {
	s := newSession(t)
	file := writeFile(t, "settings.yaml", "OPENAI_API_KEY: sk-proj-CANARYopenai1\ndatabase:\n  user: app\n  password: CANARYpw\n")
	r := s.run("", "import", "--project", "app", file)
	wantFailure(t, r, 1, "parse "+file+": database holds a map (line 3), not one value; pass --nested json", "nothing was imported")

	r = s.mustRun("", "import", "--project", "app", "--dry-run", "--nested", "json", file)
	for _, want := range []string{
		"SOURCE          NAME            RESULT        CATEGORY  REASON\n",
		"OPENAI_API_KEY  OPENAI_API_KEY  would import  ai        -\n",
		"database        database        would import  -         -\n",
		"Dry run, nothing written: 2 imported",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
		}
	}
	if out := s.mustRun("", "secret", "list", "--project", "app").stdout; out != "" {
		t.Fatalf("the dry run wrote:\n%s", out)
	}
	r = s.mustRun("", "import", "--project", "app", "--nested", "json", file)
	s.checkStored(r, nil, []hardValue{{"database", `{"user":"app","password":"CANARYpw"}`}})
}

// Renaming makes names valid; two keys that end with one name stop the
// import and name both.
func TestImportRenamesAndRefusesCollisions(t *testing.T) {
	s := newSession(t)
	file := writeFile(t, "app.json", `{"db.password": "CANARYa", "stripe-key": "CANARYb"}`)
	r := s.mustRun("", "import", "--project", "app", "--env-names", "--upper", "--prefix", "BILLING_", "--output", "json", file)
	var sum struct {
		Secrets []importOutcome `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Secrets) != 2 || sum.Secrets[0].Name != "BILLING_DB_PASSWORD" || sum.Secrets[0].Key != "db.password" || sum.Secrets[1].Name != "BILLING_STRIPE_KEY" {
		t.Errorf("outcomes %+v", sum.Secrets)
	}
	s.checkStored(r, nil, []hardValue{{"BILLING_DB_PASSWORD", "CANARYa"}, {"BILLING_STRIPE_KEY", "CANARYb"}})

	file = writeFile(t, "app.json", `{"db-password": "CANARYa", "db.password": "CANARYb"}`)
	r = s.run("", "import", "--project", "other", "--env-names", file)
	wantFailure(t, r, 1, `db-password (db-password) and db.password (data["db.password"]`[:len("db-password (db-password) and db.password (")], "both become the secret name db_password", "nothing was imported")
}

// A file that cannot be read whole (truncated JSON, a YAML alias bomb, a
// key twice, a value over 1 MiB, 100 MB on stdin) writes nothing, says
// why in one line, and reads no more than the 16 MiB limit.
func TestImportRefusesMalformedFilesBeforeWriting(t *testing.T) {
	s := newSession(t)
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	for i, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		prev := string(rune('a' + i))
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
	}
	tooBig := strings.Repeat("CANARYbig", store.MaxValueBytes/9+1)[:store.MaxValueBytes+1]
	for _, c := range []struct {
		name, content string
		args          []string
		want          string
	}{
		{"truncated.json", `{"OPENAI_API_KEY": "sk-proj-CANARY", "B": "CANA`, nil, "not valid JSON: the text ends before the JSON does (a truncated file?)"},
		{"bomb.yaml", bomb, []string{"--nested", "json"}, "a (line 1): YAML anchors and aliases (&name, *name, <<) are not read"},
		{"dup.json", `{"A": "CANARY1", "OPENAI_API_KEY": "x", "A": "CANARY2"}`, nil, "A appears twice (the second at line 1, column"},
		{"dup.yaml", "A: CANARY1\nA: CANARY2\n", nil, "A appears twice (lines 1 and 2)"},
		{"big.json", `{"OPENAI_API_KEY": "sk-proj-ok", "BIG": "` + tooBig + `"}`, nil, "BIG: " + store.ValidateValue("app", "BIG", tooBig).Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := writeFile(t, c.name, c.content)
			r := s.run("", append(append([]string{"import", "--project", "app"}, c.args...), file)...)
			wantFailure(t, r, 1, c.want, "nothing was imported")
			if strings.Contains(r.stdout+r.stderr, "CANARY") {
				t.Fatalf("a value was printed:\n%s", r)
			}
		})
	}

	huge := &countingReader{left: 100 << 20}
	r := s.runReading(huge, "import", "--project", "app", "--format", "json", "-")
	wantFailure(t, r, 1, "- is larger than 16 MiB, more than a file of secrets holds; nothing was imported")
	if huge.read > secretsource.MaxFileBytes+64<<10 {
		t.Errorf("read %d bytes of a 100 MB stream, want at most the 16 MiB limit", huge.read)
	}
	if out := s.mustRun("", "secret", "list", "--project", "app").stdout; out != "" {
		t.Fatalf("secrets were written:\n%s", out)
	}
}

// countingReader is a stream of '{' that counts what was read of it.
type countingReader struct{ left, read int }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	c.left -= n
	c.read += n
	return n, nil
}

func TestImportNeedsOneFileAndKnownFlags(t *testing.T) {
	s := newSession(t)
	wantFailure(t, s.run("", "import", "--project", "app"), 2, "name one file to import, or - for stdin (0 arguments given)")
	wantFailure(t, s.run("", "import", "--project", "app", "--format", "toml", "-"), 2, `--format: unknown format "toml": use dotenv, json or yaml`)
	wantFailure(t, s.run("", "import", "--project", "app", "--nested", "flatten", "-"), 2, `--nested: unknown value "flatten": use refuse or json`)
	wantFailure(t, s.run("", "import", "-"), 2, "--project")
	s.terminal = true
	wantFailure(t, s.run("", "import", "--project", "app", "-"), 1, "stdin is a terminal: pipe the secrets in")
}
