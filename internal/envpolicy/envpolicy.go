// Package envpolicy says what an environment variable's name does beyond
// carrying a value: whether it steers how a program is loaded or a shell
// starts (LD_PRELOAD, BASH_ENV, PATH, NODE_OPTIONS...), and whether it is
// one of the settings pgsecrets, PostgreSQL and Terraform read credentials
// from (PGSECRETS_ROOT_KEYS, DATABASE_URL, PGPASSWORD, TF_TOKEN_*). It is
// the one place these lists are written: `run`, the environment fallback
// of render and resolved_config, and every writer of secrets (secret add,
// import-env, the dashboard, Terraform) ask it.
//
// Names are compared without regard to case: on Windows, environment
// variable names are case-insensitive, so a secret named path sets PATH.
package envpolicy

import "strings"

// rule is one name, or a prefix of names, with the reason a user sees.
type rule struct {
	name   string
	prefix bool
	why    string
}

func match(rules []rule, name string) (rule, bool) {
	upper := strings.ToUpper(name)
	for _, r := range rules {
		if upper == r.name || r.prefix && strings.HasPrefix(upper, r.name) {
			return r, true
		}
	}
	return rule{}, false
}

// Reasons shared by several entries of startup.
const (
	loaderWhy   = "the dynamic loader reads it to load libraries into every program it starts"
	shellWhy    = "a shell reads it when it starts or runs commands, and can run code from it"
	pathWhy     = "it decides which program a command name starts"
	pythonWhy   = "Python reads it at start-up to find or run code"
	nodeWhy     = "Node.js reads it at start-up to find or run code"
	perlWhy     = "Perl reads it at start-up to find or run code"
	rubyWhy     = "Ruby reads it at start-up to find or run code"
	javaWhy     = "the Java runtime reads it at start-up to find or run code"
	gitWhy      = "git runs the program it names, or reads configuration that does"
	programWhy  = "tools run the program it names"
	runtimeWhy  = "a language runtime reads it at start-up to find or run code"
	opensslWhy  = "OpenSSL reads the configuration it names, which can load code"
	glibcIconv  = "glibc loads character-set modules from the directory it names"
	zshStartup  = "zsh reads its start-up files from the directory it names"
	lessPreproc = "less runs the command it holds on every file it opens"
)

// startup are the names that change how a program is loaded or a shell
// starts: whoever sets one chooses code that runs in the program. A
// secret is a value, not a program, so `run` refuses to set these unless
// the operator names them.
var startup = []rule{
	{"LD_", true, loaderWhy},
	{"DYLD_", true, loaderWhy},
	{"GCONV_PATH", false, glibcIconv},
	{"BASH_ENV", false, shellWhy},
	{"ENV", false, shellWhy},
	{"BASH_FUNC_", true, "bash defines functions from it, which replace commands a script runs"},
	{"SHELLOPTS", false, shellWhy},
	{"BASHOPTS", false, shellWhy},
	{"IFS", false, "a shell splits every unquoted word with it, which changes what commands run"},
	{"PS1", false, shellWhy},
	{"PS2", false, shellWhy},
	{"PS4", false, shellWhy},
	{"PROMPT_COMMAND", false, shellWhy},
	{"ZDOTDIR", false, zshStartup},
	{"SHELL", false, programWhy},
	{"PATH", false, pathWhy},
	{"CDPATH", false, pathWhy},
	{"NODE_OPTIONS", false, nodeWhy},
	{"NODE_PATH", false, nodeWhy},
	{"PYTHONPATH", false, pythonWhy},
	{"PYTHONSTARTUP", false, pythonWhy},
	{"PYTHONHOME", false, pythonWhy},
	{"PYTHONUSERBASE", false, pythonWhy},
	{"PYTHONWARNINGS", false, pythonWhy},
	{"PYTHONBREAKPOINT", false, pythonWhy},
	{"PERL5OPT", false, perlWhy},
	{"PERL5LIB", false, perlWhy},
	{"PERLLIB", false, perlWhy},
	{"PERL5DB", false, perlWhy},
	{"RUBYOPT", false, rubyWhy},
	{"RUBYLIB", false, rubyWhy},
	{"JAVA_TOOL_OPTIONS", false, javaWhy},
	{"_JAVA_OPTIONS", false, javaWhy},
	{"JDK_JAVA_OPTIONS", false, javaWhy},
	{"CLASSPATH", false, javaWhy},
	{"DOTNET_STARTUP_HOOKS", false, runtimeWhy},
	{"LUA_INIT", true, runtimeWhy},
	{"LUA_PATH", true, runtimeWhy},
	{"LUA_CPATH", true, runtimeWhy},
	{"PHPRC", false, runtimeWhy},
	{"PHP_INI_SCAN_DIR", false, runtimeWhy},
	{"OPENSSL_CONF", false, opensslWhy},
	{"GIT_SSH", false, gitWhy},
	{"GIT_SSH_COMMAND", false, gitWhy},
	{"GIT_ASKPASS", false, gitWhy},
	{"GIT_EDITOR", false, gitWhy},
	{"GIT_PAGER", false, gitWhy},
	{"GIT_EXTERNAL_DIFF", false, gitWhy},
	{"GIT_PROXY_COMMAND", false, gitWhy},
	{"GIT_EXEC_PATH", false, gitWhy},
	{"GIT_TEMPLATE_DIR", false, gitWhy},
	{"GIT_CONFIG", true, gitWhy}, // GIT_CONFIG_COUNT, _KEY_n, _VALUE_n, _PARAMETERS, _GLOBAL...
	{"GIT_DIR", false, gitWhy},
	{"SSH_ASKPASS", false, programWhy},
	{"EDITOR", false, programWhy},
	{"VISUAL", false, programWhy},
	{"PAGER", false, programWhy},
	{"LESSOPEN", false, lessPreproc},
	{"LESSCLOSE", false, lessPreproc},
}

// Startup says why name changes how a program is loaded or a shell starts,
// or "" when it does not.
func Startup(name string) string {
	if r, ok := match(startup, name); ok {
		return r.why
	}
	return ""
}

// StartupNames are the names among names that Startup reports, in order.
func StartupNames(names []string) []string {
	var out []string
	for _, n := range names {
		if Startup(n) != "" {
			out = append(out, n)
		}
	}
	return out
}

// StartupWarning is what a writer of secrets tells the person who stores
// one under such a name, or "" for any other name: storing it is allowed
// (a project may mean it), but `pgsecrets run` will not pass it on its own.
func StartupWarning(name string) string {
	why := Startup(name)
	if why == "" {
		return ""
	}
	return "secret " + name + " is named like a variable that changes how programs start (" + why +
		"): `pgsecrets run` refuses to pass it unless given --allow-startup-var " + name +
		"; rename it unless a program must really get it"
}

// credentials are the settings of pgsecrets, PostgreSQL and Terraform
// that hold credentials: pgsecrets' root keys and database URL, libpq's
// password and connection settings, Terraform's tokens and variables.
var credentials = []rule{
	{"PGSECRETS_", true, "names starting with PGSECRETS_ are pgsecrets' own settings, such as its root keys and database URL"},
	{"DATABASE_URL", false, "DATABASE_URL is a database URL pgsecrets may connect with, password included"},
	{"PG", true, "names starting with PG are PostgreSQL connection settings (libpq), such as PGPASSWORD"},
	{"TF_", true, "names starting with TF_ are Terraform's settings, such as TF_TOKEN_* credentials and TF_VAR_* values"},
}

// ownSettings are the entries of credentials pgsecrets itself reads to
// find its database and root keys: all but Terraform's.
var ownSettings = credentials[:3]

// Credential says why name is a setting that holds credentials of
// pgsecrets, PostgreSQL or Terraform, or "" when it is not. The first
// match gives the reason.
func Credential(name string) string {
	if r, ok := match(credentials, name); ok {
		return r.why
	}
	return ""
}

// Setting reports whether pgsecrets reads name to find its database or its
// root keys (PGSECRETS_*, DATABASE_URL, libpq's PG*): a program pgsecrets
// starts has no use for them, and gets them only when asked.
func Setting(name string) bool {
	_, ok := match(ownSettings, name)
	return ok
}
