package store

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsecrets/terraform-provider-pgsecrets/internal/audit"
)

// Dashboard roles, from least to most trusted. Each includes the ones
// before it.
const (
	// RoleViewer sees names, metadata, model defaults and the audit
	// trail.
	RoleViewer = "viewer"
	// RoleEditor also adds and changes values, without ever seeing one.
	RoleEditor = "editor"
	// RoleAdmin also reveals and deletes values, sets model defaults and
	// sees accounts and keys.
	RoleAdmin = "admin"
)

// Roles lists the roles, least trusted first.
var Roles = []string{RoleViewer, RoleEditor, RoleAdmin}

// ValidateRole checks a role name.
func ValidateRole(role string) error {
	if slices.Contains(Roles, role) {
		return nil
	}
	return fmt.Errorf("role %q is not valid: use viewer, editor or admin", role)
}

// NormalizeEmail checks an account email and returns it lower-cased: one
// person has one account whatever the case they type.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || len(e) > 254 {
		return "", fmt.Errorf("email %q is not valid: give a plain address such as alice@example.com", truncateForMessage(email))
	}
	return e, nil
}

// truncateForMessage keeps a bad input recognisable in a message without
// quoting a screenful (or a password pasted into the wrong field whole).
func truncateForMessage(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Account is a dashboard account, without its password hash.
type Account struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
	// Projects limits the account to these projects; empty means every
	// project.
	Projects  []string  `json:"projects"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// MayAccess reports whether the account's project limit lets it at
// project.
func (a Account) MayAccess(project string) bool {
	return len(a.Projects) == 0 || slices.Contains(a.Projects, project)
}

const accountColumns = "id, email, role, projects, disabled, created_at, created_by, updated_at, updated_by"

func scanAccount(row pgx.Row, a *Account, extra ...any) error {
	return row.Scan(append([]any{&a.ID, &a.Email, &a.Role, &a.Projects, &a.Disabled, &a.CreatedAt, &a.CreatedBy, &a.UpdatedAt, &a.UpdatedBy}, extra...)...)
}

func accountWhat(email string) string { return fmt.Sprintf("account %q", email) }

// NewAccount is an account to create. PasswordHash is an argon2id PHC
// string (internal/password): the store never sees a password.
type NewAccount struct {
	Email        string
	Role         string
	Projects     []string
	PasswordHash string
}

// checkHash refuses anything but an argon2id PHC string, so that a
// password can never be stored as its own hash by mistake.
func checkHash(hash string) error {
	if !strings.HasPrefix(hash, "$argon2id$") {
		return errors.New("password hash is not an argon2id PHC string")
	}
	return nil
}

// CreateAccount creates an account, with its audit event. An account with
// the same email (in any case) is a ConflictError.
func (s *Store) CreateAccount(ctx context.Context, in NewAccount) (Account, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return Account{}, err
	}
	if err := ValidateRole(in.Role); err != nil {
		return Account{}, err
	}
	projects := []string{}
	for _, p := range in.Projects {
		if err := ValidateProject(p); err != nil {
			return Account{}, err
		}
		if !slices.Contains(projects, p) {
			projects = append(projects, p)
		}
	}
	if err := checkHash(in.PasswordHash); err != nil {
		return Account{}, err
	}
	var a Account
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := scanAccount(tx.QueryRow(ctx, "insert into "+s.table("dashboard_accounts")+
			" (email, role, projects, password_hash, created_by, updated_by) values ($1, $2, $3, $4, $5, $5) returning "+accountColumns,
			email, in.Role, projects, in.PasswordHash, s.actor), &a)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
			return &AccountExistsError{Email: email}
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", accountWhat(email), ownerOnly(err))
		}
		return s.appendAudit(ctx, tx, &audit.Event{
			Action: audit.ActionAccountCreate, Subject: email,
			Details: audit.Details(map[string]any{"role": a.Role, "projects": a.Projects}),
		})
	})
	return a, err
}

// AccountExistsError refuses a second account with the same email.
type AccountExistsError struct{ Email string }

func (e *AccountExistsError) Error() string {
	return fmt.Sprintf("account %q already exists; `pgsecrets account reset-password` changes its password", e.Email)
}

func (e *AccountExistsError) Is(target error) bool { return target == ErrConflict }

// ListAccounts returns every account, ordered by email.
func (s *Store) ListAccounts(ctx context.Context) ([]Account, error) {
	rows, err := s.pool.Query(ctx, "select "+accountColumns+" from "+s.table("dashboard_accounts")+" order by email")
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		var a Account
		return a, scanAccount(r, &a)
	})
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// GetAccount reads an account by email, in any case.
func (s *Store) GetAccount(ctx context.Context, email string) (Account, error) {
	a, _, err := s.readAccount(ctx, email, false)
	return a, err
}

// AccountCredentials reads an account and its password hash, for a
// sign-in. The hash goes no further than the password check.
func (s *Store) AccountCredentials(ctx context.Context, email string) (Account, string, error) {
	return s.readAccount(ctx, email, true)
}

func (s *Store) readAccount(ctx context.Context, email string, withHash bool) (Account, string, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, "", &NotFoundError{What: accountWhat(truncateForMessage(email))}
	}
	var (
		a    Account
		hash string
	)
	cols := accountColumns + ", ''"
	if withHash {
		cols = accountColumns + ", password_hash"
	}
	err = scanAccount(s.pool.QueryRow(ctx, "select "+cols+" from "+s.table("dashboard_accounts")+" where email = $1", e), &a, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, "", &NotFoundError{What: accountWhat(e)}
	}
	if err != nil {
		return Account{}, "", fmt.Errorf("read %s: %w", accountWhat(e), dashboardPrivilege(err))
	}
	return a, hash, nil
}

// SetAccountDisabled disables or enables an account, with its audit
// event. Disabling also ends the account's sessions, in the same
// transaction.
func (s *Store) SetAccountDisabled(ctx context.Context, email string, disabled bool) (Account, error) {
	action := audit.ActionAccountEnable
	if disabled {
		action = audit.ActionAccountDisable
	}
	var a Account
	err := s.changeAccount(ctx, email, func(tx pgx.Tx, e string) (map[string]any, string, error) {
		err := scanAccount(tx.QueryRow(ctx, "update "+s.table("dashboard_accounts")+
			" set disabled = $2, updated_at = now(), updated_by = $3 where email = $1 returning "+accountColumns, e, disabled, s.actor), &a)
		if err != nil {
			return nil, "", err
		}
		details := map[string]any{}
		if disabled {
			n, err := s.deleteSessions(ctx, tx, a.ID)
			if err != nil {
				return nil, "", err
			}
			details["sessions_ended"] = n
		}
		return details, action, nil
	})
	return a, err
}

// SetAccountPassword replaces an account's password hash and ends its
// sessions, with its audit event; it returns how many sessions ended.
func (s *Store) SetAccountPassword(ctx context.Context, email, passwordHash string) (int64, error) {
	if err := checkHash(passwordHash); err != nil {
		return 0, err
	}
	var ended int64
	err := s.changeAccount(ctx, email, func(tx pgx.Tx, e string) (map[string]any, string, error) {
		var id int64
		err := tx.QueryRow(ctx, "update "+s.table("dashboard_accounts")+
			" set password_hash = $2, updated_at = now(), updated_by = $3 where email = $1 returning id", e, passwordHash, s.actor).Scan(&id)
		if err != nil {
			return nil, "", err
		}
		if ended, err = s.deleteSessions(ctx, tx, id); err != nil {
			return nil, "", err
		}
		return map[string]any{"sessions_ended": ended}, audit.ActionAccountPassword, nil
	})
	return ended, err
}

// DeleteAccount removes an account and its sessions, with its audit event.
func (s *Store) DeleteAccount(ctx context.Context, email string) error {
	return s.changeAccount(ctx, email, func(tx pgx.Tx, e string) (map[string]any, string, error) {
		var role string
		err := tx.QueryRow(ctx, "delete from "+s.table("dashboard_accounts")+" where email = $1 returning role", e).Scan(&role)
		return map[string]any{"role": role}, audit.ActionAccountDelete, err
	})
}

// changeAccount runs one change of an existing account and records its
// audit event in the same transaction; fn returns the event's details and
// action, or pgx.ErrNoRows when there is no such account.
func (s *Store) changeAccount(ctx context.Context, email string, fn func(tx pgx.Tx, email string) (map[string]any, string, error)) error {
	e, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		details, action, err := fn(tx, e)
		if errors.Is(err, pgx.ErrNoRows) {
			return &NotFoundError{What: accountWhat(e)}
		}
		if err != nil {
			return fmt.Errorf("change %s: %w", accountWhat(e), ownerOnly(err))
		}
		return s.appendAudit(ctx, tx, &audit.Event{Action: action, Subject: e, Details: audit.Details(details)})
	})
}

// ownerOnly explains a refusal by the database of an account change the
// role may not make.
func ownerOnly(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("%w: only the schema's owner (the role that runs `pgsecrets migrate up`) creates, re-passwords and removes dashboard accounts; the dashboard role may only disable and enable them, and the runtime role may not touch them, so that neither can make itself an admin; run this as the owner", err)
	}
	return err
}

// dashboardPrivilege explains a refusal by the database of the dashboard's
// own state (sessions, sign-in counters, account reads) to a role that is
// not the dashboard's.
func dashboardPrivilege(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("%w: the dashboard's accounts and sessions are for the dashboard role (`pgsecrets migrate up --grant-dashboard ROLE`, run as the owner) and the owner; run `pgsecrets serve` and `pgsecrets account` as one of them, not as the runtime role applications hold", err)
	}
	return err
}
