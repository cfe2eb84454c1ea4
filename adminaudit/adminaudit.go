// Package adminaudit keeps the log of what administrators did, in the
// console or with the CLI: logins, tenant, node and key changes, shared
// links, revocations, admin management. The console lists it; nothing
// edits or deletes it.
package adminaudit

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
)

// Action names one kind of admin action, as stored and filtered on.
type Action string

// The actions audited. Their names are stored: keep them.
const (
	Login            Action = "login"
	Logout           Action = "logout"
	AdminCreate      Action = "admin.create"
	AdminDisable     Action = "admin.disable"
	AdminEnable      Action = "admin.enable"
	AdminReset       Action = "admin.reset_password"
	TenantCreate     Action = "tenant.create"
	TenantSuspend    Action = "tenant.suspend"
	TenantResume     Action = "tenant.resume"
	TenantSettings   Action = "tenant.settings"
	TenantAliases    Action = "tenant.aliases"
	NodeAdd          Action = "node.add"
	NodeUpdate       Action = "node.update"
	NodeRemove       Action = "node.remove"
	APIKeyCreate     Action = "apikey.create"
	APIKeyRevoke     Action = "apikey.revoke"
	TenantKeyAdd     Action = "tenantkey.add"
	TenantKeyDisable Action = "tenantkey.disable"
	SigningKeyRotate Action = "signingkey.rotate"
	SigningKeyRetire Action = "signingkey.retire"
	LinkShare        Action = "link.share"
	LinkRevoke       Action = "link.revoke"
	LinkRevokeAll    Action = "link.revoke_all"
)

// Actions lists every action, for the console's filter.
var Actions = []Action{Login, Logout, AdminCreate, AdminDisable, AdminEnable, AdminReset,
	TenantCreate, TenantSuspend, TenantResume, TenantSettings, TenantAliases, NodeAdd, NodeUpdate, NodeRemove,
	APIKeyCreate, APIKeyRevoke, TenantKeyAdd, TenantKeyDisable, SigningKeyRotate, SigningKeyRetire,
	LinkShare, LinkRevoke, LinkRevokeAll}

// CLI is the actor of actions taken with the command line, which has no
// admin account: whoever can run it holds the database credentials.
const CLI = "cli"

// Record is one action to log.
type Record struct {
	AdminID  int64  // 0 for the CLI
	Actor    string // the admin's email, or CLI
	Action   Action
	TenantID int64  // 0 when the action concerns no one tenant
	Target   string // what was acted on: a capture ID, a key prefix, a jti, an email...
	Detail   string // what changed, short
	ClientIP netip.Addr
}

// Entry is a stored Record, as the console lists it.
type Entry struct {
	ID         int64       `db:"id"`
	At         time.Time   `db:"at"`
	AdminID    *int64      `db:"admin_id"`
	Actor      string      `db:"actor"`
	Action     Action      `db:"action"`
	TenantID   *int64      `db:"tenant_id"`
	TenantSlug *string     `db:"tenant_slug"`
	Target     string      `db:"target"`
	Detail     string      `db:"detail"`
	ClientIP   *netip.Addr `db:"client_ip"`
}

// Store writes and lists the admin audit log.
type Store struct {
	db *db.DB
}

// NewStore returns a Store over d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// Bounds on stored text: whatever the action, a row stays small.
const (
	maxTarget = 256
	maxDetail = 1024
)

// Record writes r. A tenant's action is written in that tenant's scope, a
// global one (TenantID 0) in none. Returns Invalid for an unknown action or
// an empty actor.
func (s *Store) Record(ctx context.Context, r Record) error {
	if !slices.Contains(Actions, r.Action) || r.Actor == "" {
		return callscope.Errorf(callscope.Invalid, "adminaudit: action %q by %q", r.Action, r.Actor)
	}
	var adminID, tenantID *int64
	if r.AdminID != 0 {
		adminID = &r.AdminID
	}
	if r.TenantID != 0 {
		tenantID = &r.TenantID
	}
	var ip *netip.Addr
	if r.ClientIP.IsValid() {
		a := r.ClientIP.Unmap()
		ip = &a
	}
	insert := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `/* Store.Record */
			INSERT INTO admin_audit (admin_id, actor, action, tenant_id, target, detail, client_ip)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			adminID, clip(r.Actor, maxTarget), string(r.Action), tenantID, clip(r.Target, maxTarget), clip(r.Detail, maxDetail), ip)
		return err
	}
	var err error
	if tenantID != nil {
		err = s.db.InTenant(ctx, r.TenantID, insert)
	} else {
		err = s.db.NoTenant(ctx, insert)
	}
	if err != nil {
		return fmt.Errorf("adminaudit.Store.Record(%s): %w", r.Action, err)
	}
	return nil
}

// clip bounds s to n bytes of valid UTF-8 (PostgreSQL refuses anything
// else in text).
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// Filter selects entries; zero fields select everything.
type Filter struct {
	Actor    string // exact: an email, or CLI
	Action   Action
	TenantID int64
	Before   int64 // entries with a smaller id: the next page
	Limit    int   // default and maximum 500
}

// List returns the newest entries matching f, newest first. It spans
// tenants: the console's admins see every tenant's actions.
func (s *Store) List(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	var out []Entry
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Store.List */
			SELECT a.id, a.at, a.admin_id, a.actor, a.action, a.tenant_id, t.slug AS tenant_slug,
				a.target, a.detail, a.client_ip
			FROM admin_audit a LEFT JOIN tenants t ON t.id = a.tenant_id
			WHERE ($1 = '' OR a.actor = $1)
			  AND ($2 = '' OR a.action = $2)
			  AND ($3 = 0 OR a.tenant_id = $3)
			  AND ($4 = 0 OR a.id < $4)
			ORDER BY a.id DESC
			LIMIT $5`, f.Actor, string(f.Action), f.TenantID, f.Before, f.Limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[Entry])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adminaudit.Store.List: %w", err)
	}
	return out, nil
}
