package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// GetValues decrypts the named secrets of a project, fetched in one query
// however many names there are, and records the read as one audit event
// that lists the names read (and those not found), never a value. Names
// absent from the project are absent from the map; that is not an error.
// purpose (e.g. "cli run") goes in the event's details. Resolution needs
// values only: the query reads no more than decryption does.
func (s *Store) GetValues(ctx context.Context, project string, names []string, purpose string) (map[string][]byte, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	values, err := s.LookupValues(ctx, project, names, purpose)
	if err != nil {
		return nil, err
	}
	return valueMap(names, values), nil
}

// LookupValues is GetValues for names already sorted and distinct, as
// secretref.Document.Names lists them, answered as secretref.Options.Lookup
// wants: values[i] is names[i]'s value, nil when the project has no such
// secret. It is resolution's lookup: no map, and no sort of names that
// come sorted.
func (s *Store) LookupValues(ctx context.Context, project string, names []string, purpose string) ([][]byte, error) {
	for i := 1; i < len(names); i++ {
		if names[i] <= names[i-1] {
			return nil, fmt.Errorf("look up secrets of project %q: the names must be sorted and distinct; this is a bug", project)
		}
	}
	if len(names) == 0 {
		if err := ValidateProject(project); err != nil {
			return nil, err
		}
		return nil, nil
	}
	_, values, err := s.readValues(ctx, project, names, purpose)
	return values, err
}

// GetProjectValues decrypts every secret of a project, in one query, and
// records the read as one audit event listing every name read.
func (s *Store) GetProjectValues(ctx context.Context, project, purpose string) (map[string][]byte, error) {
	names, values, err := s.readValues(ctx, project, nil, purpose)
	if err != nil {
		return nil, err
	}
	return valueMap(names, values), nil
}

// valueMap maps each name found to its value.
func valueMap(names []string, values [][]byte) map[string][]byte {
	out := make(map[string][]byte, len(names))
	for i, v := range values {
		if v != nil {
			out[names[i]] = v
		}
	}
	return out
}

// readValues reads the named secrets (sorted, distinct), or with names nil
// every secret, of project: one query, one audit event. It answers the
// names (those given, or every secret's, sorted) and their values, nil
// where a name was not found. Through a read URL, the read is made again
// on the primary when the standby may only be behind (a name it lacks, a
// key pruned since); the audit event always goes to the primary.
func (s *Store) readValues(ctx context.Context, project string, names []string, purpose string) ([]string, [][]byte, error) {
	if err := ValidateProject(project); err != nil {
		return nil, nil, err
	}
	if err := s.needKeys("decrypt a secret"); err != nil {
		return nil, nil, err
	}
	// The read made again on the primary asks what this one asked: with
	// names nil, every secret there, not those the standby had.
	from, asked := s, names
	names, values, err := s.decryptValues(ctx, project, asked)
	if s.onPrimaryInstead(err) {
		from = s.Consistent()
		names, values, err = from.decryptValues(ctx, project, asked)
	}
	if err != nil {
		return nil, nil, err
	}

	read := make([]string, 0, len(names))
	var missing []string
	for i, n := range names {
		if values[i] != nil {
			read = append(read, n)
		} else {
			missing = append(missing, n)
		}
	}
	if len(read) == 0 && len(missing) == 0 {
		return names, values, nil // a project with no secret: nothing was read
	}
	// Written after the read, and before any value leaves this function:
	// a value read on a standby reaches the caller only once the primary
	// has its audit event, as a value read on the primary does.
	err = s.Audit(ctx, &audit.Event{
		Action: audit.ActionSecretRead, Project: project,
		Details: audit.ReadDetails(purpose, read, missing, from.readFrom()),
	})
	if err != nil {
		wipe(values)
		return nil, nil, err
	}
	return names, values, nil
}

// wipe clears decrypted values that will not be handed out.
func wipe(values [][]byte) {
	for _, v := range values {
		clear(v)
	}
}

// decryptValues fetches and decrypts the named secrets (sorted, distinct;
// every one with names nil) of project through the store's reader. It
// answers the names (every secret's, sorted, with names nil) and their
// values, lined up, nil for a name not found.
func (s *Store) decryptValues(ctx context.Context, project string, names []string) ([]string, [][]byte, error) {
	q, err := s.reader(ctx)
	if err != nil {
		return nil, nil, err
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
		return nil, nil, fmt.Errorf("read %s of project %q: %w", what, project, err)
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
		return nil, nil, fmt.Errorf("read %s of project %q: %w", what, project, err)
	}
	if s.ReadsFromReadURL() && names != nil && len(fetched) < len(names) {
		// The standby may only be behind: the whole read is made again on
		// the primary, before anything here is decrypted.
		return nil, nil, errStandbyLacksNames
	}
	if names == nil {
		slices.SortFunc(fetched, func(a, b row) int { return strings.Compare(a.name, b.name) })
		names = make([]string, len(fetched))
		for i, x := range fetched {
			names[i] = x.name
		}
	}
	keyOpened()
	values := make([][]byte, len(names))
	at := 0 // rows come in the index's order, the names' own, as a rule
	for _, x := range fetched {
		if at >= len(names) || names[at] != x.name {
			var ok bool
			if at, ok = slices.BinarySearch(names, x.name); !ok {
				wipe(values)
				return nil, nil, fmt.Errorf("read %s of project %q: the server answered %q, which was not asked for", what, project, x.name)
			}
		}
		d, err := s.decryptSecret(ctx, project, x.name, x.revision, x.token)
		if err != nil {
			wipe(values)
			return nil, nil, fmt.Errorf("decrypt %s: %w", secretWhat(project, x.name), err)
		}
		values[at] = d.Plaintext
		if values[at] == nil {
			values[at] = []byte{} // found, though empty: nil means not found
		}
		at++
	}
	return names, values, nil
}
