package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
)

// hash checks a new password's length and hashes it. Returns Invalid on
// the field "password" when it is shorter than MinPasswordLen.
func (s *AdminStore) hash(password string) (string, error) {
	if len([]rune(password)) < MinPasswordLen {
		return "", callscope.FieldError("password", "must be at least %d characters", MinPasswordLen)
	}
	return HashPassword(password, s.params)
}

// List returns every administrator, by email.
func (s *AdminStore) List(ctx context.Context) ([]Admin, error) {
	var out []Admin
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* AdminStore.List */ SELECT `+adminColumns+` FROM admins ORDER BY lower(email)`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[Admin])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth.AdminStore.List: %w", err)
	}
	return out, nil
}

// ByEmail returns the admin with email, compared without case. Returns
// NotFound if there is none.
func (s *AdminStore) ByEmail(ctx context.Context, email string) (Admin, error) {
	return s.queryAdmin(ctx, "ByEmail", email, `/* AdminStore.ByEmail */
		SELECT `+adminColumns+` FROM admins WHERE lower(email) = lower($1)`)
}

// SetDisabled disables or enables the admin with email. Disabling ends
// every session of the admin (the epoch rises) and refuses their logins;
// enabling lets them log in again with the password they had. Returns
// NotFound if there is no such admin.
func (s *AdminStore) SetDisabled(ctx context.Context, email string, disabled bool) (Admin, error) {
	return s.queryAdmin(ctx, "SetDisabled", email, `/* AdminStore.SetDisabled */
		UPDATE admins SET disabled = $2,
			session_epoch = session_epoch + CASE WHEN $2 AND NOT disabled THEN 1 ELSE 0 END
		WHERE lower(email) = lower($1)
		RETURNING `+adminColumns, disabled)
}

// ResetPassword sets a new password for the admin with email and ends
// every session they have. Returns Invalid for a password shorter than
// MinPasswordLen, NotFound if there is no such admin.
func (s *AdminStore) ResetPassword(ctx context.Context, email, password string) (Admin, error) {
	hash, err := s.hash(password)
	if err != nil {
		return Admin{}, err
	}
	return s.queryAdmin(ctx, "ResetPassword", email, `/* AdminStore.ResetPassword */
		UPDATE admins SET password_hash = $2, session_epoch = session_epoch + 1
		WHERE lower(email) = lower($1)
		RETURNING `+adminColumns, hash)
}

// queryAdmin runs a statement that returns the one admin with email.
func (s *AdminStore) queryAdmin(ctx context.Context, op, email, sql string, args ...any) (Admin, error) {
	var a Admin
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, append([]any{email}, args...)...)
		if err != nil {
			return err
		}
		a, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Admin])
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Admin{}, callscope.Errorf(callscope.NotFound, "no admin %s", email)
	}
	if err != nil {
		return Admin{}, fmt.Errorf("auth.AdminStore.%s(%s): %w", op, email, err)
	}
	return a, nil
}
