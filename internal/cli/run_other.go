//go:build !linux && !darwin

package cli

import "os"

// inTerminalForeground is false where pgsecrets cannot ask the terminal:
// every signal is then relayed.
func inTerminalForeground(*os.File) bool { return false }
