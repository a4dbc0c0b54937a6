package store

import (
	"context"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// openKeysEarly starts opening the keys a read of project needs that this
// process holds not yet: the project's primary key and the audit key the
// read's event is sealed with. One statement on the primary (where key rows
// are read), sent in one round trip before the read's own query on an idle
// connection of the pool rather than on a new one beside it, reads both
// still wrapped; their unwraps then run in the background. The returned
// function waits for the project key; the audit append waits for its key on
// its own.
//
// Otherwise a process's first read would read the project key when its
// first row names it, and the audit key in the append, each in a statement
// of its own that the connection has not described yet: two round trips
// each. With a root a key service holds, the unwraps, round trips to that
// service, also overlap the read of the secrets instead of following it.
// With a JWK root, an audit key alone is not worth a statement: the
// append reads it beside the chain head, in a round trip it makes anyway.
//
// Any error is left for the decryption or the append, which meet it again
// and report it (a secret under a retired key is opened when met).
func (s *Store) openKeysEarly(ctx context.Context, project string) (wait func()) {
	noWait := func() {}
	if s.keys == nil {
		return noWait
	}
	needProject := s.onProjectKeys && !s.keys.HoldsProjectKey(project)
	s.audit.mu.Lock()
	needAudit := s.audit.key == nil
	s.audit.mu.Unlock()
	if !needProject && (!needAudit || s.keys.RootKey().Wrapper() == nil) {
		return noWait
	}
	var (
		auditKID, auditWrapped *string
		kid, wrapped           *string
		revision               *int64
	)
	err := s.pool.QueryRow(ctx, "select a.kid, a.wrapped_key, p.kid, p.revision, p.wrapped_key from (select) x"+
		" left join lateral (select kid, wrapped_key from "+s.table("audit_keys")+" where "+openAuditKeyWhere("")+" limit 1) a on true"+
		" left join lateral (select kid, revision, wrapped_key from "+s.table("project_keys")+" where project = $2 and state = 'primary') p on true",
		append(oneRoundTrip(s.pool), s.keys.RootKey().KID, project)...).Scan(&auditKID, &auditWrapped, &kid, &revision, &wrapped)
	if err != nil {
		return noWait
	}
	if needAudit && auditKID != nil {
		go func() {
			s.audit.mu.Lock()
			defer s.audit.mu.Unlock()
			if s.audit.key == nil {
				_, _ = s.openAuditKeyLocked(*auditKID, *auditWrapped)
			}
		}()
	}
	if !needProject || kid == nil {
		return noWait
	}
	opened := make(chan struct{})
	go func() {
		defer close(opened)
		_, _ = s.openProjectKeyOnce(project, *kid, func() (*keyring.Key, error) {
			return s.addWrappedProjectKey(project, *kid, ProjectKeyPrimary, *revision, *wrapped)
		})
	}()
	return func() {
		select {
		case <-opened:
		case <-ctx.Done():
		}
	}
}
