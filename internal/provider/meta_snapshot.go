package provider

import (
	"context"
	"sync"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/store"
)

// metaSnapshots serves the refresh of many secrets of one project from one
// query. Terraform runs one provider process per operation (plan, apply)
// and refreshes every resource in it; the first refresh of a project reads
// the metadata of all its secrets at once, and the others are served from
// that snapshot. A snapshot lives only as long as the process, so the next
// plan sees every change made since, and a write through this provider
// drops the project's snapshot at once.
type metaSnapshots struct {
	mu        sync.Mutex
	byProject map[string]*projectSnapshot
}

type projectSnapshot struct {
	once    sync.Once
	secrets map[string]store.SecretMeta
	err     error
}

// get returns a secret's metadata, reading the project's snapshot on first
// use; concurrent refreshes of one project share one query.
func (m *metaSnapshots) get(ctx context.Context, st *store.Store, project, name string) (store.SecretMeta, error) {
	m.mu.Lock()
	if m.byProject == nil {
		m.byProject = map[string]*projectSnapshot{}
	}
	snap := m.byProject[project]
	if snap == nil {
		snap = &projectSnapshot{}
		m.byProject[project] = snap
	}
	m.mu.Unlock()

	snap.once.Do(func() {
		list, err := st.ListSecrets(ctx, project)
		if err != nil {
			snap.err = err
			return
		}
		snap.secrets = make(map[string]store.SecretMeta, len(list))
		for _, meta := range list {
			snap.secrets[meta.Name] = meta
		}
	})
	if snap.err != nil {
		m.forget(project, snap) // a later refresh tries again
		return store.SecretMeta{}, snap.err
	}
	meta, ok := snap.secrets[name]
	if !ok {
		return store.SecretMeta{}, &store.NotFoundError{What: `secret "` + project + "/" + name + `"`}
	}
	return meta, nil
}

// invalidate drops a project's snapshot, as after a write to it.
func (m *metaSnapshots) invalidate(project string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byProject, project)
}

func (m *metaSnapshots) forget(project string, snap *projectSnapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byProject[project] == snap {
		delete(m.byProject, project)
	}
}
