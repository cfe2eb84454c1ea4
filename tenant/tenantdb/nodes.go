package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/tenant"
)

type nodeRow struct {
	TenantID     int64          `db:"tenant_id"`
	TenantSlug   string         `db:"slug"`
	TenantStatus string         `db:"status"`
	CaptureID    int64          `db:"capture_id"`
	Name         string         `db:"name"`
	AuthKeyHash  []byte         `db:"auth_key_hash"`
	AllowedCIDRs []netip.Prefix `db:"allowed_cidrs"`
	CertSHA256   []byte         `db:"cert_sha256"`
	CreatedAt    time.Time      `db:"created_at"`
}

func (r nodeRow) node() tenant.Node {
	return tenant.Node{TenantID: r.TenantID, TenantSlug: r.TenantSlug, TenantStatus: r.TenantStatus,
		CaptureID: uint32(r.CaptureID), Name: r.Name, AuthKeyHash: r.AuthKeyHash,
		AllowedCIDRs: r.AllowedCIDRs, CertSHA256: r.CertSHA256, CreatedAt: r.CreatedAt}
}

const nodeSelect = `SELECT n.tenant_id, t.slug, t.status, n.capture_id, n.name, n.auth_key_hash,
	n.allowed_cidrs, n.cert_sha256, n.created_at
	FROM capture_nodes n JOIN tenants t ON t.id = n.tenant_id`

// AddNode registers capture ID n.CaptureID to tenantID and removes it from
// the unclaimed list. Returns Invalid for a capture ID outside uint32 or a
// malformed CIDR, Conflict when another tenant (or this one) owns the ID,
// NotFound when the tenant does not exist.
func (s *Store) AddNode(ctx context.Context, tenantID int64, n tenant.NewNode) (tenant.Node, error) {
	if err := tenant.ValidateCaptureID(n.CaptureID); err != nil {
		return tenant.Node{}, err
	}
	cidrs, err := tenant.ParseCIDRs(n.CIDRs)
	if err != nil {
		return tenant.Node{}, err
	}
	cert, err := tenant.ParseCertFingerprint(n.CertSHA256)
	if err != nil {
		return tenant.Node{}, err
	}
	var hash []byte
	if n.AuthKey != "" {
		hash = tenant.HashAuthKey(n.AuthKey)
	}
	var out tenant.Node
	err = s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `/* Store.AddNode */ 
			INSERT INTO capture_nodes (tenant_id, capture_id, name, auth_key_hash, allowed_cidrs, cert_sha256)
			VALUES ($1, $2, $3, $4, $5, $6)`, tenantID, n.CaptureID, n.Name, hash, cidrs, cert); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* Store.AddNode */ DELETE FROM unclaimed_nodes WHERE capture_id = $1`, n.CaptureID); err != nil {
			return err
		}
		out, err = nodeInTx(ctx, tx, tenantID, n.CaptureID)
		return err
	})
	switch {
	case isUnique(err):
		return tenant.Node{}, callscope.Errorf(callscope.Conflict, "capture ID %d is already registered to a tenant", n.CaptureID)
	case constraintOf(err) == "capture_nodes_tenant_id_fkey":
		return tenant.Node{}, callscope.Errorf(callscope.NotFound, "tenant %d not found", tenantID)
	case err != nil:
		return tenant.Node{}, fmt.Errorf("tenantdb.Store.AddNode(%d, %d): %w", tenantID, n.CaptureID, err)
	}
	return out, nil
}

// UpdateNode changes tenantID's node captureID. Returns NotFound if the
// tenant has no such node, Invalid for a malformed CIDR or fingerprint.
func (s *Store) UpdateNode(ctx context.Context, tenantID int64, captureID uint32, u tenant.NodeUpdate) (tenant.Node, error) {
	var cidrs []netip.Prefix
	if u.CIDRs != nil {
		var err error
		if cidrs, err = tenant.ParseCIDRs(u.CIDRs); err != nil {
			return tenant.Node{}, err
		}
	}
	var cert []byte
	if u.CertSHA256 != nil {
		var err error
		if cert, err = tenant.ParseCertFingerprint(*u.CertSHA256); err != nil {
			return tenant.Node{}, err
		}
	}
	var hash []byte
	if u.AuthKey != nil && *u.AuthKey != "" {
		hash = tenant.HashAuthKey(*u.AuthKey)
	}
	var out tenant.Node
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.UpdateNode */ 
			UPDATE capture_nodes SET
				name = coalesce($3, name),
				auth_key_hash = CASE WHEN $4 THEN $5 ELSE auth_key_hash END,
				allowed_cidrs = CASE WHEN $6 THEN $7 ELSE allowed_cidrs END,
				cert_sha256 = CASE WHEN $8 THEN $9 ELSE cert_sha256 END,
				updated_at = now()
			WHERE tenant_id = $1 AND capture_id = $2`, tenantID, int64(captureID), u.Name,
			u.AuthKey != nil, hash, u.CIDRs != nil, cidrs, u.CertSHA256 != nil, cert)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		out, err = nodeInTx(ctx, tx, tenantID, int64(captureID))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return tenant.Node{}, callscope.Errorf(callscope.NotFound, "capture node %d not found", captureID)
	}
	if err != nil {
		return tenant.Node{}, fmt.Errorf("tenantdb.Store.UpdateNode(%d, %d): %w", tenantID, captureID, err)
	}
	return out, nil
}

// nodeInTx reads one node of tenantID.
func nodeInTx(ctx context.Context, tx pgx.Tx, tenantID, captureID int64) (tenant.Node, error) {
	rows, err := tx.Query(ctx, nodeSelect+` WHERE n.tenant_id = $1 AND n.capture_id = $2`, tenantID, captureID)
	if err != nil {
		return tenant.Node{}, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[nodeRow])
	return r.node(), err
}

// RemoveNode unregisters captureID from tenantID. Returns NotFound if the
// tenant has no such node.
func (s *Store) RemoveNode(ctx context.Context, tenantID int64, captureID uint32) error {
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `/* Store.RemoveNode */ 
			DELETE FROM capture_nodes WHERE tenant_id = $1 AND capture_id = $2`, tenantID, int64(captureID))
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return callscope.Errorf(callscope.NotFound, "capture node %d not found", captureID)
	}
	if err != nil {
		return fmt.Errorf("tenantdb.Store.RemoveNode(%d, %d): %w", tenantID, captureID, err)
	}
	return nil
}

// Nodes returns tenantID's capture nodes by capture ID.
func (s *Store) Nodes(ctx context.Context, tenantID int64) ([]tenant.Node, error) {
	var out []tenant.Node
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "/* Store.Nodes */ "+nodeSelect+` WHERE n.tenant_id = $1 ORDER BY n.capture_id`, tenantID)
		if err != nil {
			return err
		}
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[nodeRow])
		for _, r := range rs {
			out = append(out, r.node())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.Nodes(%d): %w", tenantID, err)
	}
	return out, nil
}

// AllNodes returns every capture node of every tenant. Cross-tenant on
// purpose: ingest builds its capture-ID → tenant map from it, and the
// console lists nodes for admins.
func (s *Store) AllNodes(ctx context.Context) ([]tenant.Node, error) {
	var out []tenant.Node
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "/* Store.AllNodes */ "+nodeSelect+` ORDER BY t.slug, n.capture_id`)
		if err != nil {
			return err
		}
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[nodeRow])
		for _, r := range rs {
			out = append(out, r.node())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.AllNodes: %w", err)
	}
	return out, nil
}

// NodesVersion returns a value that changes whenever a node or a tenant's
// status changes, so ingest can reload its map only when needed.
func (s *Store) NodesVersion(ctx context.Context) (string, error) {
	var v string
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `/* Store.NodesVersion */ 
			SELECT concat_ws('/',
				(SELECT count(*) FROM capture_nodes),
				(SELECT max(updated_at) FROM capture_nodes),
				(SELECT max(created_at) FROM capture_nodes),
				(SELECT string_agg(id || status, ',' ORDER BY id) FROM tenants))`).Scan(&v)
	})
	if err != nil {
		return "", fmt.Errorf("tenantdb.Store.NodesVersion: %w", err)
	}
	return v, nil
}

// NoteUnclaimed adds sightings of unknown capture IDs (ingest flushes them
// every few seconds). tenant.Unclaimed IDs belong to no tenant.
func (s *Store) NoteUnclaimed(ctx context.Context, seen []tenant.Unclaimed) error {
	if len(seen) == 0 {
		return nil
	}
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		for _, u := range seen {
			// A sighting reported after the ID was claimed (ingest flushes
			// what it saw before its node map caught up) is dropped.
			if _, err := tx.Exec(ctx, `/* Store.NoteUnclaimed */ 
				INSERT INTO unclaimed_nodes (capture_id, last_source, last_reason, packets, first_seen, last_seen)
				SELECT $1::bigint, $2::inet, $3::text, $4::bigint, $5::timestamptz, $5::timestamptz
				WHERE NOT EXISTS (SELECT FROM capture_nodes WHERE capture_id = $1)
				ON CONFLICT (capture_id) DO UPDATE SET
					last_source = excluded.last_source, last_reason = excluded.last_reason,
					packets = unclaimed_nodes.packets + excluded.packets,
					last_seen = greatest(unclaimed_nodes.last_seen, excluded.last_seen)`,
				u.CaptureID, u.LastSource, u.LastReason, u.Packets, u.LastSeen); err != nil {
				return err
			}
		}
		// Keep the list bounded: a scan of random capture IDs must not grow it forever.
		_, err := tx.Exec(ctx, `DELETE FROM unclaimed_nodes WHERE capture_id IN (
			SELECT capture_id FROM unclaimed_nodes ORDER BY last_seen DESC OFFSET 1000)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("tenantdb.Store.NoteUnclaimed: %w", err)
	}
	return nil
}

// ListUnclaimed returns the unknown capture IDs ingest has seen and no
// tenant owns, most recent first.
func (s *Store) ListUnclaimed(ctx context.Context) ([]tenant.Unclaimed, error) {
	var out []tenant.Unclaimed
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		// The NOT EXISTS covers a sighting written in the same instant as
		// the claim, which neither statement could see.
		rows, err := tx.Query(ctx, `/* Store.ListUnclaimed */ 
			SELECT u.capture_id, u.last_source, u.last_reason, u.packets, u.first_seen, u.last_seen
			FROM unclaimed_nodes u
			WHERE NOT EXISTS (SELECT FROM capture_nodes n WHERE n.capture_id = u.capture_id)
			ORDER BY u.last_seen DESC`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[tenant.Unclaimed])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.ListUnclaimed: %w", err)
	}
	return out, nil
}
