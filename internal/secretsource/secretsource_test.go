package secretsource

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/dotenv"
)

func mustParse(t *testing.T, content string, opts Options) *Result {
	t.Helper()
	res, err := Parse([]byte(content), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return res
}

func keysAndValues(res *Result) map[string]string {
	m := map[string]string{}
	for _, e := range res.Entries {
		m[e.Key] = e.Value
	}
	return m
}

func wantError(t *testing.T, content string, opts Options, fragments ...string) {
	t.Helper()
	res, err := Parse([]byte(content), opts)
	if err == nil {
		t.Fatalf("Parse accepted the file: %+v", res)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q lacks %q", err, f)
		}
	}
	if strings.Contains(err.Error(), "CANARY") {
		t.Errorf("error holds a value: %v", err)
	}
}

func TestDetectFormatFromNameThenContent(t *testing.T) {
	for _, c := range []struct {
		name, content string
		want          Format
	}{
		{"secrets.json", "A: b", JSON},
		{"secrets.YAML", "{}", YAML},
		{"x.yml", "", YAML},
		{".env.production", "{}", Dotenv},
		{"-", "  \n{\"A\": \"b\"}", JSON},
		{"-", "[{\"key\": \"A\"}]", JSON},
		{"-", "# c\nexport A=b:c\n", Dotenv},
		{"-", "---\nA: b=c\n", YAML},
		{"-", "apiVersion: v1\nkind: Secret\n", YAML},
	} {
		if got := Detect(c.name, []byte(c.content)); got != c.want {
			t.Errorf("Detect(%q, %q) = %q, want %q", c.name, c.content, got, c.want)
		}
	}
}

func TestJSONDuplicateKeyRefusedWithItsPath(t *testing.T) {
	wantError(t, `{"data": {"data": {"A": "CANARY1", "A": "CANARY2"}, "metadata": {}}}`, Options{Format: JSON},
		"data.data.A appears twice", "line 1, column", "keep one")
	wantError(t, "A: CANARY1\nB: x\nA: CANARY2\n", Options{Format: YAML}, "A appears twice (lines 1 and 3)")
}

func TestTruncatedAndInvalidJSONRefusedWithoutItsText(t *testing.T) {
	wantError(t, `{"A": "CANARY-one", "B": "CANA`, Options{Format: JSON}, "ends before the JSON does")
	wantError(t, "{\"A\": \"x\",\n \"B\": CANARYbare}", Options{Format: JSON}, "not valid JSON at line 2, column")
	wantError(t, `{"A": "x"} {"B": "y"}`, Options{Format: JSON}, "more text after the end")
	wantError(t, ``, Options{Format: JSON}, "ends before")
}

// A "billion laughs" document is a few hundred bytes that expand to
// gigabytes; it is refused at its first anchor, before anything expands.
func TestYAMLAliasBombRefused(t *testing.T) {
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = name
	}
	wantError(t, bomb, Options{Format: YAML, Nested: NestedAsJSON}, "a (line 1): YAML anchors and aliases", "write each value out")
	wantError(t, "base: &b {A: x}\nprod:\n  <<: *b\n", Options{Format: YAML}, "anchors and aliases")
	wantError(t, "A: x\n---\nB: y\n", Options{Format: YAML}, "more than one YAML document (line 2")
}

func TestOversizedFileRefusedBeforeParsing(t *testing.T) {
	big := bytes.Repeat([]byte("A"), MaxFileBytes+1)
	_, err := Parse(big, Options{Format: JSON})
	if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("err = %v", err)
	}
}

func TestDeeplyNestedFileRefused(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 100) + `"x"` + strings.Repeat("}", 100)
	wantError(t, deep, Options{Format: JSON, Nested: NestedAsJSON}, "nested more than 64 levels")
}

func TestNestedValueRefusedWithItsPathUnlessAskedAsJSON(t *testing.T) {
	content := "API_KEY: CANARYk\ndatabase:\n  user: app\n  port: 5432\n  tls: true\n  hosts: [a, 'b']\n  hex: 0x1F\n"
	wantError(t, content, Options{Format: YAML}, "database holds a map (line 3), not one value", "--nested json")
	res := mustParse(t, content, Options{Format: YAML, Nested: NestedAsJSON})
	if got := keysAndValues(res)["database"]; got != `{"user":"app","port":5432,"tls":true,"hosts":["a","b"],"hex":"0x1F"}` {
		t.Errorf("database stored as %s", got)
	}
	wantError(t, `{"A": ["x"]}`, Options{Format: JSON}, "A holds a list, not one value")
	res = mustParse(t, `{"A": {"z": 1.50, "a": null, "s": "<&>"}}`, Options{Format: JSON, Nested: NestedAsJSON})
	if got := keysAndValues(res)["A"]; got != `{"z":1.50,"a":null,"s":"<&>"}` {
		t.Errorf("A stored as %s", got)
	}
}

func TestScalarsStoredAsWritten(t *testing.T) {
	res := mustParse(t, "PORT: 08\nDEBUG: yes\nRATIO: 1.50\nEMPTY:\nQ: \"it's \\\"q\\\" $HOME\"\n", Options{Format: YAML})
	want := map[string]string{"PORT": "08", "DEBUG": "yes", "RATIO": "1.50", "EMPTY": "", "Q": `it's "q" $HOME`}
	if got := keysAndValues(res); len(got) != len(want) {
		t.Fatalf("got %v", got)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
	}
	if res.Entries[1].Line != 2 || res.Entries[1].Source != "DEBUG" {
		t.Errorf("entry 1 = %+v", res.Entries[1])
	}
}

func TestSopsEncryptedFileRefused(t *testing.T) {
	wantError(t, `{"A": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]", "sops": {"mac": "ENC[...]", "version": "3.13.3"}}`, Options{}, "still encrypted by sops", "sops -d")
	wantError(t, "A=ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\nsops_version=3.13.3\n", Options{Format: Dotenv}, "still encrypted by sops")
}

func TestDopplerSettingsDropped(t *testing.T) {
	res := mustParse(t, `{"API_KEY":"x","DOPPLER_CONFIG":"prd","DOPPLER_ENVIRONMENT":"prd","DOPPLER_PROJECT":"billing"}`, Options{})
	if len(res.Entries) != 1 || len(res.Dropped) != 3 || res.Shape != shapeDoppler || res.Generic {
		t.Fatalf("result %+v", res)
	}
	// Without all three it is someone's own variable.
	res = mustParse(t, "DOPPLER_PROJECT=mine\nA=b\n", Options{})
	if len(res.Entries) != 2 || len(res.Dropped) != 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestInfisicalPersonalOverrideDroppedAndCommentKept(t *testing.T) {
	res := mustParse(t, `[{"key":"A","value":"x","type":"shared","comment":"billing API"},{"key":"B","value":"y","type":"personal"}]`, Options{})
	if len(res.Entries) != 1 || res.Entries[0].Description != "billing API" || res.Entries[0].Source != "[0] A" {
		t.Fatalf("entries %+v", res.Entries)
	}
	if len(res.Dropped) != 1 || !strings.Contains(res.Dropped[0].Reason, "personal override") {
		t.Fatalf("dropped %+v", res.Dropped)
	}
	wantError(t, `[{"key":"A","value":"x"},{"key":"A","value":"CANARY"}]`, Options{}, "A appears twice ([0] A and [1] A)")
	wantError(t, `["A"]`, Options{}, "[0] is not an object with a key and a value")
}

func TestKubernetesSecretDecodesDataAndRefusesAKeyInBoth(t *testing.T) {
	res := mustParse(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  A: eA==\nstringData:\n  B: y\n", Options{})
	if got := keysAndValues(res); got["A"] != "x" || got["B"] != "y" || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	wantError(t, "apiVersion: v1\nkind: Secret\ndata:\n  A: eA==\nstringData:\n  A: CANARY\n", Options{}, "data.A and stringData.A are the same key")
	wantError(t, "apiVersion: v1\nkind: Secret\ndata:\n  A: CANARY!!\n", Options{}, "data.A is not valid base64")
}

func TestVaultDeletedVersionRefused(t *testing.T) {
	wantError(t, `{"data":{"data":null,"metadata":{"version":3,"deletion_time":"2024-01-01T00:00:00Z"}}}`, Options{}, "data.data is null", "vault kv undelete")
}

func TestVaultDumpNamesAndCollisions(t *testing.T) {
	dump := `{"secret/": {"app": {"password": "a"}, "sub/": {"db": {"password": "b", "db.user": "c"}}}}`
	res := mustParse(t, dump, Options{})
	if res.Shape != shapeVaultDump || len(res.Entries) != 3 || res.Entries[1].Source != "secret/sub/db:password" || res.Entries[1].Path != "sub/db" {
		t.Fatalf("result %+v", res)
	}
	_, err := Rename(res.Entries, Rules{})
	if err == nil || err.Error() != "password (secret/app:password) and password (secret/sub/db:password) both become the secret name password; remove one from the file, or rename differently (--with-path keeps a Vault dump's paths apart)" {
		t.Fatalf("collision error: %v", err)
	}
	named, err := Rename(res.Entries, Rules{WithPath: true, EnvNames: true, Upper: true, Prefix: "V_"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range named {
		names = append(names, n.Name)
	}
	if got := strings.Join(names, " "); got != "V_APP_PASSWORD V_SUB_DB_PASSWORD V_SUB_DB_DB_USER" {
		t.Errorf("names %s", got)
	}
}

func TestUpperCaseCollisionNamesBothKeys(t *testing.T) {
	res := mustParse(t, `{"db_password": "a", "DB_PASSWORD": "b"}`, Options{})
	_, err := Rename(res.Entries, Rules{Upper: true})
	if err == nil || !strings.Contains(err.Error(), "db_password (db_password) and DB_PASSWORD (DB_PASSWORD) both become the secret name DB_PASSWORD") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnvNamesReplacesEachCharacterOnce(t *testing.T) {
	if got := (Rules{EnvNames: true}).Name(Entry{Key: "db.pass-wörd/x"}); got != "db_pass_w_rd_x" {
		t.Errorf("got %q", got)
	}
	if got := (Rules{}).Suggest(Entry{Key: "db.password"}); got != "DB_PASSWORD" || !dotenv.ValidName(got) {
		t.Errorf("got %q", got)
	}
}

func TestDotenvProblemsComeFromTheDotenvParser(t *testing.T) {
	_, err := Parse([]byte("A=\"CANARY\nB=1\n"), Options{Format: Dotenv})
	var pe *dotenv.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
}

// A file of many tiny values would cost gigabytes once parsed: it is
// refused first, while a file of large values (block scalars, quoted
// values with commas) of the same size is read.
func TestManyValuesRefusedButLargeValuesRead(t *testing.T) {
	for name, c := range map[string]struct {
		content string
		format  Format
	}{
		"flow":       {"a: [" + strings.Repeat("1,", maxValues) + "1]", YAML},
		"block":      {strings.Repeat("- 1\n", maxValues+1), YAML},
		"after text": {"a: it's\n" + strings.Repeat("- 1\n", maxValues+1), YAML},
		"json":       {"[" + strings.Repeat("1,", maxValues) + "1]", JSON},
	} {
		if _, err := Parse([]byte(c.content), Options{Format: c.format, Nested: NestedAsJSON}); err == nil || !strings.Contains(err.Error(), "more than 100000 values") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	line := strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC,", 2) + "\n"
	var pem, quoted strings.Builder
	for pem.Len() < 1<<20-200 {
		pem.WriteString("    " + line)
		quoted.WriteString(strings.TrimSuffix(line, "\n") + " ")
	}
	content := "KEY: |\n" + pem.String() + "OTHER: 'x, y, \n  " + strings.ReplaceAll(quoted.String(), "'", "''") + "'\nLAST: \"" + quoted.String() + "\"\n"
	res, err := Parse([]byte(content), Options{Format: YAML})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := keysAndValues(res); len(got) != 3 || !strings.HasPrefix(got["KEY"], "MIIEvQ") || !strings.HasPrefix(got["OTHER"], "x, y, MIIEvQ") {
		t.Fatalf("got %d entries", len(got))
	}
}

func TestKubernetesListAndByteOrderMark(t *testing.T) {
	wantError(t, "apiVersion: v1\nkind: List\nitems:\n- kind: Secret\n- kind: Secret\n", Options{}, "a Kubernetes List (of 2 objects): import one Secret at a time")
	res := mustParse(t, "\ufeff{\"A\": \"b\"}", Options{Name: "x.json"})
	if got := keysAndValues(res); got["A"] != "b" {
		t.Errorf("got %v", got)
	}
}
