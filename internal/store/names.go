package store

import (
	"fmt"
	"regexp"
)

// Project and secret names are identifiers: they appear in ids
// ("project/name"), in ciphertext bindings and in environment variable
// fallbacks, so a slash or space in them would be ambiguous.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ValidateProject checks a project name.
func ValidateProject(project string) error {
	if !namePattern.MatchString(project) {
		return fmt.Errorf("project %q is not valid: use letters, digits, '_', '.', '-', starting with a letter or digit, at most 128", project)
	}
	return nil
}

// ValidateSecretName checks a secret name.
func ValidateSecretName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("secret name %q is not valid: use letters, digits, '_', '.', '-', starting with a letter or digit, at most 128", name)
	}
	return nil
}

func secretWhat(project, name string) string {
	return fmt.Sprintf("secret %q", project+"/"+name)
}
