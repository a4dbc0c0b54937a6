package cli

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the script that makes your shell complete pgsecrets commands and
flags. Load it from your shell's startup file.

The values of --project and --name are completed too, from the database
the command line (or the environment) names: the projects that hold
secrets, and the secrets of the --project already typed. Completion reads
metadata only: it needs no root keys (and ignores any that are set), reads
no value and writes no audit event. When the database cannot be reached it
offers nothing, silently, within a few seconds.

bash needs the bash-completion package (v2.x; on macOS,
bash-completion@2 from Homebrew, with bash 4.1 or later).`,
		Example: `  # bash, for the current shell
  source <(pgsecrets completion bash)

  # zsh, for every new shell
  pgsecrets completion zsh > "${fpath[1]}/_pgsecrets"

  # fish
  pgsecrets completion fish > ~/.config/fish/completions/pgsecrets.fish

  # PowerShell, for the current session (add it to $PROFILE to keep it)
  pgsecrets completion powershell | Out-String | Invoke-Expression

  # Then, e.g.: pgsecrets secret get --project bil<Tab> --name ST<Tab>`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf(cmd, "name one shell: bash, zsh, fish or powershell")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usageErrorf(cmd, "shell %q is not supported: use bash, zsh, fish or powershell", args[0])
		},
	}
}
