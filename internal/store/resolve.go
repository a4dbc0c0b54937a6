package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// GetSecrets decrypts the named secrets of a project, fetched in one query
// however many names there are, and records the read as one audit event
// that lists the names read (and those not found), never a value. Names
// absent from the project are absent from the map; that is not an error.
// purpose (e.g. "terraform resolved_config", "cli render") goes in the
// event's details.
func (s *Store) GetSecrets(ctx context.Context, project string, names []string, purpose string) (map[string]Secret, error) {
	if err := ValidateProject(project); err != nil {
		return nil, err
	}
	if err := s.needKeys("decrypt a secret"); err != nil {
		return nil, err
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return map[string]Secret{}, nil
	}
	// No digest: resolution decrypts every value, so Sealed serves nothing
	// here, and hashing every ciphertext costs the server as much as the
	// select.
	rows, err := s.pool.Query(ctx, "select "+metaColumnsNoDigest+", '', ciphertext from "+s.table("secrets")+" where project = $1 and name = any($2)", project, names)
	if err != nil {
		return nil, fmt.Errorf("read %d secret(s) of project %q: %w", len(names), project, err)
	}
	type row struct {
		sec   Secret
		token string
	}
	fetched, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, scanMeta(r, &x.sec.SecretMeta, &x.token)
	})
	if err != nil {
		return nil, fmt.Errorf("read %d secret(s) of project %q: %w", len(names), project, err)
	}

	out := make(map[string]Secret, len(fetched))
	for _, x := range fetched {
		d, err := s.decryptSecret(ctx, project, x.sec.Name, x.sec.Revision, x.token)
		if err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", secretWhat(project, x.sec.Name), err)
		}
		x.sec.Value, x.sec.Bound, x.sec.Unbound = d.Plaintext, d.Versioned, !d.Bound
		out[x.sec.Name] = x.sec
	}

	read := make([]string, 0, len(out))
	var missing []string
	for _, n := range names {
		if _, ok := out[n]; ok {
			read = append(read, n)
		} else {
			missing = append(missing, n)
		}
	}
	details := map[string]any{"purpose": purpose, "names": read}
	if len(missing) > 0 {
		details["not_found"] = missing
	}
	err = s.Audit(ctx, &audit.Event{
		Action: audit.ActionSecretRead, Project: project,
		Details: audit.Details(details),
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
