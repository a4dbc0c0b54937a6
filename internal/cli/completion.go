package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// bashCompletionCheck opens the bash script: without the bash-completion
// package's functions, every Tab would print "_get_comp_words_by_ref:
// command not found", so the script says so once, when it is sourced.
const bashCompletionCheck = `# pgsecrets completion needs the bash-completion package's functions.
if ! declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
    echo "pgsecrets completion: bash-completion is not loaded, so Tab would fail; install it (apt-get install bash-completion, dnf install bash-completion, brew install bash-completion@2), start a new shell or source its bash_completion, then source this script again" >&2
    return 0 2>/dev/null || exit 0
fi
`

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
bash-completion@2 from Homebrew, with bash 4.1 or later): without it, the
script says so when it is sourced, and installs nothing.`,
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
				if _, err := io.WriteString(out, bashCompletionCheck); err != nil {
					return err
				}
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
