package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
)

// AliasKey returns the canonical form of an alias address: an IP
// ("10.0.0.1", "2001:db8::1") or IP:port ("10.0.0.1:5060",
// "[2001:db8::1]:5060"), IPv4-mapped IPv6 unmapped, as the ladder matches
// it. Returns an Invalid error on the field "address" for anything else.
func AliasKey(addr string) (string, error) {
	s := strings.TrimSpace(addr)
	// HEP carries no IPv6 zone, so an alias with one would name nothing.
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && ip.Zone() == "" {
		return ip.Unmap().String(), nil
	}
	return "", callscope.FieldError("address", "%q is not an IP or IP:port such as 10.0.0.1 or 10.0.0.1:5060", addr)
}

// SetAlias names the endpoint at addr (see AliasKey) name in tenant id's
// ladders, replacing the name it had under any spelling of the same
// address. It returns the canonical key. Returns Invalid for a bad address
// or name, NotFound if the tenant does not exist.
func (s *Store) SetAlias(ctx context.Context, id int64, addr, name string) (string, error) {
	key, err := AliasKey(addr)
	if err != nil {
		return "", err
	}
	name = strings.TrimSpace(name)
	if err := ValidateAliases(map[string]string{key: name}); err != nil {
		return "", callscope.FieldError("name", "must be 1 to 64 printable characters")
	}
	err = s.editAliases(ctx, id, "SetAlias", func(a map[string]string) error {
		deleteAlias(a, key)
		a[key] = name
		return nil
	})
	return key, err
}

// RemoveAlias removes the name of the endpoint at addr, under any spelling
// of the address. Returns Invalid for a bad address, NotFound if the tenant
// does not exist or has no alias for addr.
func (s *Store) RemoveAlias(ctx context.Context, id int64, addr string) error {
	key, err := AliasKey(addr)
	if err != nil {
		return err
	}
	return s.editAliases(ctx, id, "RemoveAlias", func(a map[string]string) error {
		if !deleteAlias(a, key) {
			return callscope.Errorf(callscope.NotFound, "no alias for %s", key)
		}
		return nil
	})
}

// deleteAlias removes every key of a that means key and reports whether
// there was one. Aliases saved from the console keep the spelling typed
// there ("::ffff:10.0.0.1"), so keys are compared in canonical form.
func deleteAlias(a map[string]string, key string) bool {
	found := false
	for k := range a {
		if c, err := AliasKey(k); err == nil && c == key {
			delete(a, k)
			found = true
		}
	}
	return found
}

// editAliases applies edit to tenant id's aliases under a row lock, so two
// edits at once both land (an UPDATE of the whole map would lose one).
func (s *Store) editAliases(ctx context.Context, id int64, op string, edit func(map[string]string) error) error {
	err := s.db.InTenant(ctx, id, func(tx pgx.Tx) error {
		var a map[string]string
		err := tx.QueryRow(ctx, `/* Store.editAliases */ SELECT aliases FROM tenants WHERE id = $1 FOR UPDATE`, id).Scan(&a)
		if err != nil {
			return err
		}
		if a == nil {
			a = map[string]string{}
		}
		if err := edit(a); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `/* Store.editAliases */ UPDATE tenants SET aliases = $2 WHERE id = $1`, id, a)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "tenant %d not found", id)
	}
	if err != nil && callscope.KindOf(err) == callscope.Internal {
		return fmt.Errorf("tenant.Store.%s(%d): %w", op, id, err)
	}
	return err
}
