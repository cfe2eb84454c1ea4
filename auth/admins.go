package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
)

// Admin is a console administrator. Admins belong to no tenant: they see
// every tenant, which is why only the CLI can create the first one.
type Admin struct {
	ID           int64  `db:"id"`
	Email        string `db:"email"`
	PasswordHash string `db:"password_hash"`
	Disabled     bool   `db:"disabled"`
	// SessionEpoch rises when the admin is disabled or their password is
	// reset; a console session of an older epoch is over.
	SessionEpoch int       `db:"session_epoch"`
	CreatedAt    time.Time `db:"created_at"`
}

const adminColumns = `id, email, password_hash, disabled, session_epoch, created_at`

// MinPasswordLen is the shortest admin password accepted.
const MinPasswordLen = 12

// AdminStore keeps console administrators.
type AdminStore struct {
	db     *db.DB
	params Params

	dummyOnce sync.Once
	dummy     string // a hash to verify against when the email is unknown
}

// NewAdminStore returns an AdminStore hashing with p.
func NewAdminStore(d *db.DB, p Params) *AdminStore { return &AdminStore{db: d, params: p} }

// Create adds an administrator. Returns Invalid for a malformed email or a
// password shorter than MinPasswordLen, Conflict when the email exists.
func (s *AdminStore) Create(ctx context.Context, email, password string) (Admin, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email, "@") {
		return Admin{}, callscope.FieldError("email", "%q is not an email address", email)
	}
	hash, err := s.hash(password)
	if err != nil {
		return Admin{}, err
	}
	var a Admin
	err = s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* AdminStore.Create */
			INSERT INTO admins (email, password_hash) VALUES ($1, $2)
			RETURNING `+adminColumns, email, hash)
		if err != nil {
			return err
		}
		a, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Admin])
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return Admin{}, callscope.Errorf(callscope.Conflict, "admin %s already exists", email)
	}
	if err != nil {
		return Admin{}, fmt.Errorf("auth.AdminStore.Create: %w", err)
	}
	return a, nil
}

// Authenticate returns the enabled admin whose email and password match.
// Returns Unauthorized for an unknown email, a wrong password or a
// disabled account alike, after the same amount of hashing work.
func (s *AdminStore) Authenticate(ctx context.Context, email, password string) (Admin, error) {
	var a Admin
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* AdminStore.Authenticate */
			SELECT `+adminColumns+` FROM admins WHERE lower(email) = lower($1)`, email)
		if err != nil {
			return err
		}
		a, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Admin])
		return err
	})
	denied := callscope.Errorf(callscope.Unauthorized, "wrong email or password")
	if errors.Is(err, pgx.ErrNoRows) {
		// Spend the same work as a real check so timing does not reveal
		// which emails exist.
		_, _ = VerifyPassword(s.dummyHash(), password)
		return Admin{}, denied
	}
	if err != nil {
		return Admin{}, fmt.Errorf("auth.AdminStore.Authenticate: %w", err)
	}
	ok, err := VerifyPassword(a.PasswordHash, password)
	if err != nil {
		return Admin{}, fmt.Errorf("auth.AdminStore.Authenticate(%d): %w", a.ID, err)
	}
	if !ok || a.Disabled {
		return Admin{}, denied
	}
	return a, nil
}

// ByID returns admin id. Returns NotFound if it does not exist.
func (s *AdminStore) ByID(ctx context.Context, id int64) (Admin, error) {
	var a Admin
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* AdminStore.ByID */
			SELECT `+adminColumns+` FROM admins WHERE id = $1`, id)
		if err != nil {
			return err
		}
		a, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Admin])
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Admin{}, callscope.Errorf(callscope.NotFound, "admin %d not found", id)
	}
	if err != nil {
		return Admin{}, fmt.Errorf("auth.AdminStore.ByID(%d): %w", id, err)
	}
	return a, nil
}

func (s *AdminStore) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = HashPassword("not a real password", s.params) })
	return s.dummy
}
