package store

import (
	"context"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// openKeysEarly starts opening the keys a read of project needs, when the
// first root key is held by a key service and this process holds them not
// yet: the project's primary key and the audit key the read's event is
// sealed with. One query on the primary (where key rows are read), made
// before the read's own query on an idle connection of the pool rather
// than on a new one beside it, reads both still wrapped; their unwraps then
// run in the background, so that the round trips to the key service
// overlap the read of the secrets instead of following it. The
// returned function waits for the project key; the audit append waits for
// its key on its own.
//
// With a JWK root an unwrap costs microseconds, less than the query would.
// Any error is left for the decryption or the append, which meet it again
// and report it (a secret under a retired key is opened when met).
func (s *Store) openKeysEarly(ctx context.Context, project string) (wait func()) {
	noWait := func() {}
	if s.keys == nil || s.keys.RootKey().Wrapper() == nil {
		return noWait
	}
	needProject := !s.keys.HoldsProjectKey(project)
	s.audit.mu.Lock()
	needAudit := s.audit.key == nil
	s.audit.mu.Unlock()
	if !needProject && !needAudit {
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
		s.keys.RootKey().KID, project).Scan(&auditKID, &auditWrapped, &kid, &revision, &wrapped)
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
