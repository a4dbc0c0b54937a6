package benchkit

import (
	"context"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/keyring"
)

// Copier is what a pool and a connection have for COPY.
type Copier interface {
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}

// SeedSecret is one secret row for CopySecrets: its key encrypts value, bound to
// the row at revision 1.
type SeedSecret struct {
	Project, Name string
	Value         []byte
	Key           *keyring.Key
}

// CopySecrets writes n secret rows of schema, row i as secret(i) says,
// encrypting them on every CPU and streaming them in with COPY, a chunk at
// a time so that memory stays bounded. The rows are real ciphertexts,
// bound to their rows, as the store itself would write them.
func CopySecrets(ctx context.Context, db Copier, schema string, n int, secret func(i int) SeedSecret) error {
	const chunk = 20000
	for lo := 0; lo < n; lo += chunk {
		batch := make([][]any, min(lo+chunk, n)-lo)
		var (
			wg       sync.WaitGroup
			errOnce  sync.Once
			firstErr error
		)
		per := (len(batch) + runtime.NumCPU() - 1) / runtime.NumCPU()
		for from := 0; from < len(batch); from += per {
			wg.Add(1)
			go func(from, to int) {
				defer wg.Done()
				for i := from; i < to; i++ {
					s := secret(lo + i)
					token, err := keyring.EncryptWith(s.Key, s.Value, keyring.SecretBinding(s.Project, s.Name, 1))
					if err != nil {
						errOnce.Do(func() { firstErr = err })
						return
					}
					batch[i] = []any{s.Project, s.Name, token, s.Key.KID, true, "bench", "bench"}
				}
			}(from, min(from+per, len(batch)))
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		if _, err := db.CopyFrom(ctx, pgx.Identifier{schema, "secrets"},
			[]string{"project", "name", "ciphertext", "kid", "bound", "created_by", "updated_by"}, pgx.CopyFromRows(batch)); err != nil {
			return err
		}
	}
	return nil
}
