package store

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// GetValues decrypts the named secrets of a project, fetched in one query
// however many names there are, and records the read as one audit event
// that lists the names read (and those not found), never a value. Names
// absent from the project are absent from the map; that is not an error.
// purpose (e.g. "terraform resolved_config", "cli render") goes in the
// event's details. Resolution needs values only: the query reads no more
// than decryption does.
func (s *Store) GetValues(ctx context.Context, project string, names []string, purpose string) (map[string][]byte, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		if err := ValidateProject(project); err != nil {
			return nil, err
		}
		return map[string][]byte{}, nil
	}
	return s.readValues(ctx, project, names, purpose)
}

// GetProjectValues decrypts every secret of a project, in one query, and
// records the read as one audit event listing every name read.
func (s *Store) GetProjectValues(ctx context.Context, project, purpose string) (map[string][]byte, error) {
	return s.readValues(ctx, project, nil, purpose)
}

// readValues reads the named secrets, or with names nil every secret, of
// project: one query, one audit event. Through a read URL, the read is
// made again on the primary when the standby may only be behind (a name it
// lacks, a key pruned since); the audit event always goes to the primary.
func (s *Store) readValues(ctx context.Context, project string, names []string, purpose string) (map[string][]byte, error) {
	if err := ValidateProject(project); err != nil {
		return nil, err
	}
	if err := s.needKeys("decrypt a secret"); err != nil {
		return nil, err
	}
	from := s
	out, err := s.decryptValues(ctx, project, names)
	if s.onPrimaryInstead(err) {
		from = s.Consistent()
		out, err = from.decryptValues(ctx, project, names)
	}
	if err != nil {
		return nil, err
	}

	if names == nil {
		names = slices.Sorted(maps.Keys(out))
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
	if len(read) == 0 && len(missing) == 0 {
		return out, nil // a project with no secret: nothing was read
	}
	// Written after the read, and before any value leaves this function:
	// a value read on a standby reaches the caller only once the primary
	// has its audit event, as a value read on the primary does.
	err = s.Audit(ctx, &audit.Event{
		Action: audit.ActionSecretRead, Project: project,
		Details: audit.ReadDetails(purpose, read, missing, from.readFrom()),
	})
	if err != nil {
		for _, v := range out {
			clear(v)
		}
		return nil, err
	}
	return out, nil
}

// decryptValues fetches and decrypts the named secrets (every one with
// names nil) of project through the store's reader.
func (s *Store) decryptValues(ctx context.Context, project string, names []string) (map[string][]byte, error) {
	q, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	keyOpened := s.openKeysEarly(ctx, project)
	defer keyOpened()
	// Sent in one round trip: most processes read once.
	query, args, what := "select name, revision, ciphertext from "+s.table("secrets")+" where project = $1", append(oneRoundTrip(q), project), "every secret"
	if names != nil {
		query, args, what = query+" and name = any($2)", append(args, names), fmt.Sprintf("%d secret(s)", len(names))
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s of project %q: %w", what, project, err)
	}
	type row struct {
		name, token string
		revision    int64
	}
	fetched, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.name, &x.revision, &x.token)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s of project %q: %w", what, project, err)
	}
	if s.ReadsFromReadURL() && names != nil && len(fetched) < len(names) {
		// The standby may only be behind: the whole read is made again on
		// the primary, before anything here is decrypted.
		return nil, errStandbyLacksNames
	}
	keyOpened()
	out := make(map[string][]byte, len(fetched))
	for _, x := range fetched {
		d, err := s.decryptSecret(ctx, project, x.name, x.revision, x.token)
		if err != nil {
			for _, v := range out {
				clear(v)
			}
			return nil, fmt.Errorf("decrypt %s: %w", secretWhat(project, x.name), err)
		}
		out[x.name] = d.Plaintext
	}
	return out, nil
}
