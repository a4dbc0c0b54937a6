package envpolicy

import "testing"

func TestStartupNamesAreThoseThatSteerHowProgramsStart(t *testing.T) {
	for name, steers := range map[string]bool{
		"LD_PRELOAD": true, "LD_LIBRARY_PATH": true, "ld_audit": true, "DYLD_INSERT_LIBRARIES": true,
		"BASH_ENV": true, "ENV": true, "BASH_FUNC_ls%%": true, "SHELLOPTS": true, "IFS": true, "PS4": true,
		"PATH": true, "Path": true, "NODE_OPTIONS": true, "PYTHONPATH": true, "PYTHONSTARTUP": true,
		"PERL5OPT": true, "RUBYOPT": true, "JAVA_TOOL_OPTIONS": true, "GIT_SSH_COMMAND": true,
		"GIT_CONFIG_COUNT": true, "GIT_CONFIG_KEY_0": true, "GIT_EXTERNAL_DIFF": true,
		// Ordinary secrets, including ones that share a stem.
		"API_TOKEN": false, "ENVIRONMENT": false, "GIT_TOKEN": false, "GITHUB_TOKEN": false,
		"PATH_PREFIX": false, "LDAP_PASSWORD": false, "PYTHONUNBUFFERED": false, "DATABASE_URL": false,
	} {
		if got := Startup(name) != ""; got != steers {
			t.Errorf("Startup(%q) reports %v, want %v", name, got, steers)
		}
		if got := StartupWarning(name) != ""; got != steers {
			t.Errorf("StartupWarning(%q) warns %v, want %v", name, got, steers)
		}
	}
}

func TestSettingsAreWhatPgsecretsReadsAndCredentialsAddTerraforms(t *testing.T) {
	for name, want := range map[string][2]bool{ // {Setting, Credential}
		"PGSECRETS_ROOT_KEYS": {true, true}, "pgsecrets_root_keys_file": {true, true},
		"DATABASE_URL": {true, true}, "PGPASSWORD": {true, true}, "PGSERVICE": {true, true},
		"TF_TOKEN_app_terraform_io": {false, true}, "TF_VAR_password": {false, true},
		"APP_DATABASE_URL": {false, false}, "HOME": {false, false},
	} {
		if got := [2]bool{Setting(name), Credential(name) != ""}; got != want {
			t.Errorf("%s: {Setting, Credential} = %v, want %v", name, got, want)
		}
	}
}
