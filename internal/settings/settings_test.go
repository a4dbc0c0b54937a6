package settings_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
)

// rootKeysJSON returns a valid root keys value and its key's k, which no
// message may repeat.
func rootKeysJSON(t *testing.T) (value, k string) {
	t.Helper()
	key, err := keyring.Generate("260101-Test", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	b, err := keyring.ExportRootKeys([]*keyring.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), `"k":"`)
	k, _, _ = strings.Cut(rest, `"`)
	return string(b), k
}

func writeKeysFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root-keys.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Chmod, not WriteFile's mode: the umask would narrow it.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func clearRootKeysEnv(t *testing.T) {
	t.Setenv(settings.EnvRootKeys, "")
	t.Setenv(settings.EnvRootKeysFile, "")
}

func TestRootKeysFileReadableByOthersWarnsWithChmod(t *testing.T) {
	clearRootKeysEnv(t)
	value, _ := rootKeysJSON(t)
	path := writeKeysFile(t, value, 0o644)

	loaded, err := settings.RootKeys("", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Warnings) != 1 {
		t.Fatalf("warnings = %+v, want one", loaded.Warnings)
	}
	want := "root keys file " + path + " has mode 0644, so users other than its owner can read it: run `chmod 600 " + path + "`"
	if got := loaded.Warnings[0].Detail; got != want {
		t.Errorf("warning:\n got %s\nwant %s", got, want)
	}
	if loaded.Ring == nil || loaded.Ring.RootKey().KID != "260101-Test" {
		t.Error("the keys were not loaded despite the warning")
	}

	// The same file named by PGSECRETS_ROOT_KEYS_FILE warns the same way.
	t.Setenv(settings.EnvRootKeysFile, path)
	loaded, err = settings.RootKeys("", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Warnings) != 1 || !strings.Contains(loaded.Warnings[0].Detail, "chmod 600 "+path) {
		t.Errorf("warnings from %s = %+v, want the chmod one", settings.EnvRootKeysFile, loaded.Warnings)
	}
}

func TestRootKeysFileWritableByGroupWarns(t *testing.T) {
	clearRootKeysEnv(t)
	value, _ := rootKeysJSON(t)
	path := writeKeysFile(t, value, 0o620)
	loaded, err := settings.RootKeys("", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Warnings) != 1 || !strings.Contains(loaded.Warnings[0].Detail, "can change it: run `chmod 600 "+path+"`") {
		t.Errorf("warnings = %+v, want one saying others can change it", loaded.Warnings)
	}
}

func TestRootKeysFileOnlyItsOwnerReadsGivesNoWarning(t *testing.T) {
	clearRootKeysEnv(t)
	value, _ := rootKeysJSON(t)
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		path := writeKeysFile(t, value, mode)
		loaded, err := settings.RootKeys("", path)
		if err != nil {
			t.Fatal(err)
		}
		if len(loaded.Warnings) != 0 {
			t.Errorf("mode %04o: warnings = %+v, want none", mode, loaded.Warnings)
		}
	}
}

func TestRootKeysFromJSONNeverWarnAboutModes(t *testing.T) {
	clearRootKeysEnv(t)
	value, _ := rootKeysJSON(t)
	t.Setenv(settings.EnvRootKeys, value)
	loaded, err := settings.RootKeys("", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Warnings) != 0 || loaded.Source != settings.EnvRootKeys {
		t.Errorf("loaded from %s with warnings %+v", loaded.Source, loaded.Warnings)
	}
}

func TestRootKeysEnvHoldingAPathSaysToUseTheFileVariable(t *testing.T) {
	clearRootKeysEnv(t)
	value, k := rootKeysJSON(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(existing, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, path := range []string{existing, "./keys.json", "../keys.json", "~/keys.json", "keys.json", " /run/secrets/root-keys.json "} {
		t.Run(path, func(t *testing.T) {
			t.Setenv(settings.EnvRootKeys, path)
			_, err := settings.RootKeys("", "")
			if err == nil {
				t.Fatal("a path in PGSECRETS_ROOT_KEYS was accepted")
			}
			want := "PGSECRETS_ROOT_KEYS holds a file path, not root keys JSON: set PGSECRETS_ROOT_KEYS_FILE to the file's path instead"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
			if strings.Contains(err.Error(), k) {
				t.Errorf("error %q shows the file's key material", err)
			}
		})
	}
}

func TestRootKeysSettingHoldingAPathSaysToUseFile(t *testing.T) {
	clearRootKeysEnv(t)
	_, err := settings.RootKeys("/run/secrets/root-keys.json", "")
	if err == nil || !strings.Contains(err.Error(), `root_keys = file("PATH")`) || !strings.Contains(err.Error(), settings.EnvRootKeysFile) {
		t.Errorf("error = %v, want one pointing at file() and %s", err, settings.EnvRootKeysFile)
	}
}

func TestRootKeysEnvHoldingNotJSONIsAKeyError(t *testing.T) {
	clearRootKeysEnv(t)
	// Neither JSON nor a path: the keyring's own message, not the path hint.
	t.Setenv(settings.EnvRootKeys, "hunter2")
	_, err := settings.RootKeys("", "")
	if err == nil || strings.Contains(err.Error(), "file path") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want the keyring's JSON error without the value", err)
	}
}

func TestRootKeysSingleJWKSaysToWrapIt(t *testing.T) {
	clearRootKeysEnv(t)
	key, err := keyring.Generate("260101-Solo", "dir", "A256GCM")
	if err != nil {
		t.Fatal(err)
	}
	single, err := key.ExportJWK()
	if err != nil {
		t.Fatal(err)
	}
	path := writeKeysFile(t, string(single), 0o600)
	_, err = settings.RootKeys("", path)
	if err == nil || !strings.Contains(err.Error(), "wrap it in [ ]") || !strings.Contains(err.Error(), path) {
		t.Errorf("error = %v, want the wrap hint naming %s", err, path)
	}
}
