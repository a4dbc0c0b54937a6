// Package migrations holds the database schema as numbered SQL files,
// embedded in the binary. Files are text/template: {{.schema}} is the
// configured schema name.
package migrations

import "embed"

// FS holds every migration, named NNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
