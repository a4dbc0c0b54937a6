package cli

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/settings"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// completionTimeout bounds one completion's trip to the database: a shell
// waiting on <Tab> should get nothing quickly rather than hang.
const completionTimeout = 3 * time.Second

// registerCompletions gives the --project and --name flags of every
// command in the tree (those added later by AddCommand included, as long
// as it runs after them) completion from the database's metadata. --name
// is completed only where the command also has --project, whose value it
// uses. A flag that already has a completion function keeps it.
func registerCompletions(root *cobra.Command, g *globalOptions) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flag("project") != nil {
			registerFlagCompletion(c, "project", g.completeProjects)
			if c.Flag("name") != nil {
				registerFlagCompletion(c, "name", g.completeSecretNames)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// registerFlagCompletion registers f for the flag unless the flag (perhaps
// a persistent flag shared with a parent) already has a function.
func registerFlagCompletion(c *cobra.Command, flag string, f cobra.CompletionFunc) {
	if _, ok := c.GetFlagCompletionFunc(flag); ok {
		return
	}
	// The flag exists and has no function, so this cannot fail.
	_ = c.RegisterFlagCompletionFunc(flag, f)
}

// completeProjects offers the projects that hold secrets.
func (g *globalOptions) completeProjects(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	metas, ok := g.completionSecrets(cmd, "")
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	counts := map[string]int{}
	for _, m := range metas {
		if strings.HasPrefix(m.Project, toComplete) {
			counts[m.Project]++
		}
	}
	projects := make([]string, 0, len(counts))
	for p := range counts {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	out := make([]cobra.Completion, 0, len(projects))
	for _, p := range projects {
		n := counts[p]
		desc := strconv.Itoa(n) + " secrets"
		if n == 1 {
			desc = "1 secret"
		}
		out = append(out, cobra.CompletionWithDesc(p, desc))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSecretNames offers the names of the secrets of the project
// already on the command line; without one it offers nothing.
func (g *globalOptions) completeSecretNames(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	project := flagValue(cmd, "project")
	if project == "" || store.ValidateProject(project) != nil {
		cobra.CompDebugln("no valid --project on the command line: no secret names to offer", false)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	metas, ok := g.completionSecrets(cmd, project)
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, m := range metas {
		if m.Project != project || !strings.HasPrefix(m.Name, toComplete) {
			continue
		}
		out = append(out, cobra.CompletionWithDesc(m.Name, completionDescription(m)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completionDescription is what the shells that show descriptions (zsh,
// fish, PowerShell) print next to a secret's name: its description, else
// its category. Only the first line, shortened.
func completionDescription(m store.SecretMeta) string {
	d := strings.TrimSpace(m.Description)
	if d == "" {
		d = m.Category
	}
	d, _, _ = strings.Cut(d, "\n")
	d = strings.Join(strings.Fields(d), " ")
	if r := []rune(d); len(r) > 60 {
		d = string(r[:59]) + "…"
	}
	return d
}

// flagValue is the last value the command line gave a string (or string
// slice) flag, "" if none.
func flagValue(cmd *cobra.Command, name string) string {
	f := cmd.Flag(name)
	if f == nil || !f.Changed {
		return ""
	}
	if s, ok := f.Value.(pflag.SliceValue); ok {
		if vals := s.GetSlice(); len(vals) > 0 {
			return vals[len(vals)-1]
		}
		return ""
	}
	return f.Value.String()
}

// completionSecrets lists secret metadata (every project's when project is
// empty) for completion. It needs no root keys, never loads any even when
// they are configured (so a wrong or unreadable key file does not matter),
// reads no value and writes no audit event. Any failure, an unreachable
// database included, gives no completions and prints nothing: the reason
// goes to cobra's debug log only ($BASH_COMP_DEBUG_FILE).
func (g *globalOptions) completionSecrets(cmd *cobra.Command, project string) ([]store.SecretMeta, bool) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()

	// settings.Connect resolves the database as every command does but
	// never looks at root keys. Its warnings (an unverified remote server)
	// are for the commands that do the work: a completion prints nothing.
	e := g.explicit()
	e.RequireRootKeys = false
	e.MaxConns = 1
	e.ApplicationName = "pgsecrets completion"
	pool, cfg, _, err := settings.Connect(ctx, e)
	if err != nil {
		cobra.CompDebugln("pgsecrets completion: "+oneLine(err), false)
		return nil, false
	}
	st, err := store.New(ctx, pool, cfg, nil)
	if err != nil {
		pool.Close()
		cobra.CompDebugln("pgsecrets completion: "+oneLine(err), false)
		return nil, false
	}
	defer st.Close()
	metas, err := st.ListSecrets(ctx, project)
	if err != nil {
		cobra.CompDebugln("pgsecrets completion: "+oneLine(err), false)
		return nil, false
	}
	return metas, true
}
