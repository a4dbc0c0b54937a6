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
	return validateName("project", project)
}

// ValidateSecretName checks a secret name.
func ValidateSecretName(name string) error {
	return validateName("secret name", name)
}

func validateName(what, name string) error {
	if namePattern.MatchString(name) {
		return nil
	}
	shown := name
	if len(shown) > 40 {
		shown = shown[:40] + "..." // enough to recognise, not a screenful
	}
	if len(name) > 128 {
		return fmt.Errorf("%s %q is %d characters long: at most 128 characters", what, shown, len(name))
	}
	return fmt.Errorf("%s %q is not valid: use letters, digits, '_', '.', '-', starting with a letter or digit, at most 128 characters", what, shown)
}

func secretWhat(project, name string) string {
	return fmt.Sprintf("secret %q", project+"/"+name)
}
