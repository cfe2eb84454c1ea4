package authdb

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
)

// DefaultKeyCacheTTL is how long key stores trust what they read. A key
// rotated, retired or disabled on another replica takes effect here within
// it; changes made through the same store take effect at once.
const DefaultKeyCacheTTL = 30 * time.Second

// ErrNoSecretKey is returned by KeyStore operations that need a private key
// when the store was built without a Sealer.
var ErrNoSecretKey = callscope.FieldError("CALLSCOPE_SECRET_KEY",
	"is required to create or use signing keys (at least 32 characters; try: openssl rand -hex 32)")

// ErrWrongSecretKey is returned when the secret key cannot open the signing
// keys the database holds: they were sealed under another secret. It is
// checked before anything is written, so a wrong secret changes nothing.
var ErrWrongSecretKey = callscope.FieldError("CALLSCOPE_SECRET_KEY",
	"does not open the signing keys in the database: it is not the secret they were sealed with")

// KeyInfo describes a server signing key without its private half.
type KeyInfo struct {
	KID       string     `db:"kid"`
	PublicKey []byte     `db:"public_key"`
	CreatedAt time.Time  `db:"created_at"`
	Active    bool       `db:"active"`
	RetiredAt *time.Time `db:"retired_at"`
}

// KeyStore keeps the server's Ed25519 signing keys in PostgreSQL, the
// private halves sealed with the Sealer. Exactly one key is active (signs);
// every key not retired verifies, so a rotation never breaks a live link.
// It is the ServerKey half of an auth.KeyResolver and the source of the JWKS.
// A KeyStore is safe for concurrent use.
type KeyStore struct {
	db     *db.DB
	sealer *auth.Sealer // nil: verification only
	ttl    time.Duration

	verify *keyCache

	mu       sync.Mutex
	active   auth.SigningKey
	activeAt time.Time
}

// NewKeyStore returns a KeyStore over d. sealer may be nil for a process
// that only verifies (ServerKey, PublicKeys); the operations that need a
// private key then return ErrNoSecretKey.
func NewKeyStore(d *db.DB, sealer *auth.Sealer) *KeyStore {
	return &KeyStore{db: d, sealer: sealer, ttl: DefaultKeyCacheTTL, verify: newKeyCache(DefaultKeyCacheTTL)}
}

// EnsureActive makes sure a signing key exists, creating the first one on
// the first start. Replicas starting at once create one key between them.
// Returns ErrNoSecretKey without a Sealer.
func (s *KeyStore) EnsureActive(ctx context.Context) error {
	if s.sealer == nil {
		return ErrNoSecretKey
	}
	var exists bool
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `/* KeyStore.EnsureActive */ SELECT EXISTS (SELECT FROM signing_keys WHERE active)`).Scan(&exists)
	})
	if err != nil {
		return fmt.Errorf("authdb.KeyStore.EnsureActive: %w", err)
	}
	if exists {
		// A process whose secret cannot open the key it would sign with
		// must not start: every mint would fail until someone noticed.
		if _, err := s.Active(ctx); err != nil {
			return fmt.Errorf("authdb.KeyStore.EnsureActive: %w", err)
		}
		return nil
	}
	k, sealed, err := s.newSealedKey()
	if err != nil {
		return fmt.Errorf("authdb.KeyStore.EnsureActive: %w", err)
	}
	err = s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		// Losing the race is fine: the unique index on active lets one
		// first key in and the others do nothing.
		_, err := tx.Exec(ctx, `/* KeyStore.EnsureActive */
			INSERT INTO signing_keys (kid, public_key, private_sealed, active) VALUES ($1, $2, $3, true)
			ON CONFLICT (active) WHERE active DO NOTHING`,
			k.KID, []byte(k.Private.Public().(ed25519.PublicKey)), sealed)
		return err
	})
	if err != nil {
		return fmt.Errorf("authdb.KeyStore.EnsureActive: %w", err)
	}
	return nil
}

// Active returns the key that signs, cached for the cache TTL. Returns
// ErrNoSecretKey without a Sealer, NotFound when no key was created yet
// (call EnsureActive), and ErrWrongSecretKey when the private key does not
// open under this secret.
func (s *KeyStore) Active(ctx context.Context) (auth.SigningKey, error) {
	if s.sealer == nil {
		return auth.SigningKey{}, ErrNoSecretKey
	}
	s.mu.Lock()
	if s.active.KID != "" && time.Since(s.activeAt) < s.ttl {
		k := s.active
		s.mu.Unlock()
		return k, nil
	}
	s.mu.Unlock()

	var (
		kid    string
		sealed []byte
	)
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `/* KeyStore.Active */
			SELECT kid, private_sealed FROM signing_keys WHERE active`).Scan(&kid, &sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.SigningKey{}, callscope.Errorf(callscope.NotFound, "no active signing key: run the query role once or `callscope key rotate`")
	}
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("authdb.KeyStore.Active: %w", err)
	}
	k, err := s.open(kid, sealed)
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("authdb.KeyStore.Active: %w", err)
	}
	s.mu.Lock()
	s.active, s.activeAt = k, time.Now()
	s.mu.Unlock()
	return k, nil
}

// Rotate creates a new active key. The previous key stops signing but keeps
// verifying until Retire. Returns ErrNoSecretKey without a Sealer.
func (s *KeyStore) Rotate(ctx context.Context) (KeyInfo, error) {
	if s.sealer == nil {
		return KeyInfo{}, ErrNoSecretKey
	}
	// A rotation under the wrong secret would seal a key no other replica
	// opens, and keep the old one active elsewhere: refuse before writing.
	if err := s.CheckSecret(ctx); err != nil {
		return KeyInfo{}, fmt.Errorf("authdb.KeyStore.Rotate: %w", err)
	}
	k, sealed, err := s.newSealedKey()
	if err != nil {
		return KeyInfo{}, fmt.Errorf("authdb.KeyStore.Rotate: %w", err)
	}
	var info KeyInfo
	err = s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		// Serialise rotations: two at once would both deactivate the old
		// key and then collide on the unique active index.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('callscope.signing_keys'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `/* KeyStore.Rotate */ UPDATE signing_keys SET active = false WHERE active`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `/* KeyStore.Rotate */
			INSERT INTO signing_keys (kid, public_key, private_sealed, active) VALUES ($1, $2, $3, true)
			RETURNING kid, public_key, created_at, active, retired_at`,
			k.KID, []byte(k.Private.Public().(ed25519.PublicKey)), sealed)
		if err != nil {
			return err
		}
		info, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[KeyInfo])
		return err
	})
	if err != nil {
		return KeyInfo{}, fmt.Errorf("authdb.KeyStore.Rotate: %w", err)
	}
	s.mu.Lock()
	s.active, s.activeAt = k, time.Now()
	s.mu.Unlock()
	s.verify.forget("")
	return info, nil
}

// Retire stops key kid from verifying: every token it signed is refused
// from then on (within the cache TTL on other replicas). Returns NotFound
// for an unknown kid and Conflict for the active key (rotate first).
func (s *KeyStore) Retire(ctx context.Context, kid string) error {
	var active bool
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `/* KeyStore.Retire */ SELECT active FROM signing_keys WHERE kid = $1 FOR UPDATE`, kid).Scan(&active)
		if err != nil || active {
			return err
		}
		_, err = tx.Exec(ctx, `/* KeyStore.Retire */
			UPDATE signing_keys SET retired_at = coalesce(retired_at, now()) WHERE kid = $1`, kid)
		return err
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return callscope.Errorf(callscope.NotFound, "signing key %q not found", kid)
	case err != nil:
		return fmt.Errorf("authdb.KeyStore.Retire: %w", err)
	case active:
		return callscope.Errorf(callscope.Conflict, "signing key %q is the active key: rotate first", kid)
	}
	s.verify.forget("")
	return nil
}

// List returns every server key, newest first, retired ones included.
func (s *KeyStore) List(ctx context.Context) ([]KeyInfo, error) {
	var out []KeyInfo
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* KeyStore.List */
			SELECT kid, public_key, created_at, active, retired_at FROM signing_keys ORDER BY created_at DESC, kid`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[KeyInfo])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb.KeyStore.List: %w", err)
	}
	return out, nil
}

// ServerKey returns the verification key of server key kid if it is not
// retired, or NotFound. It implements auth.KeyResolver.ServerKey from a cache.
func (s *KeyStore) ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if !auth.ValidKID(kid) {
		return nil, callscope.Errorf(callscope.NotFound, "no such key")
	}
	k, err := s.verify.lookup(ctx, "", kid, s.loadVerifying)
	if err != nil && !callscope.Is(err, callscope.NotFound) {
		return nil, fmt.Errorf("authdb.KeyStore.ServerKey: %w", err)
	}
	return k, err
}

// PublicKeys returns the keys that verify (not retired), sorted by kid, for
// GET /.well-known/jwks.json.
func (s *KeyStore) PublicKeys(ctx context.Context) ([]auth.PublicKey, error) {
	keys, err := s.verify.all(ctx, "", s.loadVerifying)
	if err != nil {
		return nil, fmt.Errorf("authdb.KeyStore.PublicKeys: %w", err)
	}
	out := make([]auth.PublicKey, 0, len(keys))
	for kid, k := range keys {
		out = append(out, auth.PublicKey{KID: kid, Key: k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KID < out[j].KID })
	return out, nil
}

func (s *KeyStore) loadVerifying(ctx context.Context) (map[string]crypto.PublicKey, error) {
	out := map[string]crypto.PublicKey{}
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* KeyStore.loadVerifying */
			SELECT kid, public_key FROM signing_keys WHERE retired_at IS NULL`)
		if err != nil {
			return err
		}
		var (
			kid string
			pub []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&kid, &pub}, func() error {
			if len(pub) == ed25519.PublicKeySize {
				out[kid] = ed25519.PublicKey(append([]byte(nil), pub...))
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *KeyStore) newSealedKey() (auth.SigningKey, []byte, error) {
	k, err := auth.NewSigningKey()
	if err != nil {
		return auth.SigningKey{}, nil, err
	}
	// Only the 32-byte seed is stored: the rest of an Ed25519 private key
	// is derived from it.
	sealed, err := s.sealer.Seal(k.Private.Seed(), []byte(k.KID))
	if err != nil {
		return auth.SigningKey{}, nil, err
	}
	return k, sealed, nil
}

func (s *KeyStore) open(kid string, sealed []byte) (auth.SigningKey, error) {
	seed, err := s.sealer.Open(sealed, []byte(kid))
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("signing key %q: %w: %w", kid, ErrWrongSecretKey, err)
	}
	if len(seed) != ed25519.SeedSize {
		return auth.SigningKey{}, callscope.Errorf(callscope.Internal, "signing key %q: sealed seed has %d bytes", kid, len(seed))
	}
	return auth.SigningKey{KID: kid, Private: ed25519.NewKeyFromSeed(seed)}, nil
}

// CheckSecret reports whether this store's secret opens the signing keys
// the database holds: nil when it does or when there is none yet,
// ErrWrongSecretKey when they were sealed under another secret,
// ErrNoSecretKey without a Sealer. Every key is tried, not only the active
// one, so that a later rotation cannot meet a key this secret never opened.
func (s *KeyStore) CheckSecret(ctx context.Context) error {
	if s.sealer == nil {
		return ErrNoSecretKey
	}
	type sealedKey struct {
		KID    string `db:"kid"`
		Sealed []byte `db:"private_sealed"`
	}
	var keys []sealedKey
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* KeyStore.CheckSecret */
			SELECT kid, private_sealed FROM signing_keys WHERE retired_at IS NULL`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, pgx.RowToStructByName[sealedKey])
		return err
	})
	if err != nil {
		return fmt.Errorf("authdb.KeyStore.CheckSecret: %w", err)
	}
	for _, k := range keys {
		if _, err := s.open(k.KID, k.Sealed); err != nil {
			return err
		}
	}
	return nil
}
