package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
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
//
// On the primary, each row is decrypted as it arrives, once the keys
// opened early are open, so that decryption overlaps the rest of the read
// instead of following it. A row under a key this process does not hold
// yet waits until every row is in: reading that key while the rows are
// still arriving would need a second connection, and a pool of one has
// none. Through a read URL nothing is decrypted before every row is in: a
// standby that lacks names is left first, and the read made again on the
// primary.
func (s *Store) decryptValues(ctx context.Context, project string, names []string) (map[string][]byte, error) {
	q, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	keysOpened := s.openKeysEarly(ctx, project)
	defer waitClosed(ctx, keysOpened) // no unwrap outlives the read
	// Sent in one round trip: most processes read once.
	query, args, what := "select name, revision, ciphertext from "+s.table("secrets")+" where project = $1", append(oneRoundTrip(q), project), "every secret"
	if names != nil {
		query, args, what = query+" and name = any($2)", append(args, names), fmt.Sprintf("%d secret(s)", len(names))
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s of project %q: %w", what, project, err)
	}
	defer rows.Close()
	out := make(map[string][]byte, len(names))
	fail := func(err error) (map[string][]byte, error) {
		for _, v := range out {
			clear(v)
		}
		return nil, err
	}
	decrypt := func(keysFrom querier, x secretRow) error {
		d, err := s.decryptSecret(ctx, keysFrom, project, x.name, x.revision, x.token)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", secretWhat(project, x.name), err)
		}
		out[x.name] = d.Plaintext
		return nil
	}
	stream := !s.ReadsFromReadURL()
	var later []secretRow
	for rows.Next() {
		var x secretRow
		if err := rows.Scan(&x.name, &x.revision, &x.token); err != nil {
			return fail(fmt.Errorf("read %s of project %q: %w", what, project, err))
		}
		if stream && isClosed(keysOpened) {
			var unknown *keyring.UnknownKIDError
			if err := decrypt(nil, x); !errors.As(err, &unknown) {
				if err != nil {
					return fail(err)
				}
				continue
			}
		}
		later = append(later, x)
	}
	if err := rows.Err(); err != nil {
		return fail(fmt.Errorf("read %s of project %q: %w", what, project, err))
	}
	if !stream && names != nil && len(later) < len(names) {
		return nil, errStandbyLacksNames
	}
	waitClosed(ctx, keysOpened)
	for _, x := range later {
		if err := decrypt(s.pool, x); err != nil {
			return fail(err)
		}
	}
	return out, nil
}

// secretRow is a secret as read for decryption.
type secretRow struct {
	name, token string
	revision    int64
}

// waitClosed waits until c is closed or ctx is done.
func waitClosed(ctx context.Context, c <-chan struct{}) {
	select {
	case <-c:
	case <-ctx.Done():
	}
}

// isClosed reports, without waiting, whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
