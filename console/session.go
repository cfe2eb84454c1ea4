package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
)

// Session timeouts of DESIGN.md's console: an idle admin is logged out
// after 30 minutes, anyone after 12 hours whatever they do.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// Session is one logged-in administrator.
type Session struct {
	AdminID  int64     `json:"admin_id"`
	Email    string    `json:"email"`
	Epoch    int       `json:"epoch"` // the admin's session epoch at login; a newer one ends the session
	CSRF     string    `json:"csrf"`  // per-session token every form carries
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

// errNoSession is what every lookup failure looks like to the caller: an
// unknown id, an expired session and a malformed cookie are the same.
var errNoSession = callscope.Errorf(callscope.Unauthorized, "please log in")

// Sessions keeps console sessions in Redis. The key is
//
//	P console:{console}:sess:<hex SHA-256 of the session id>
//
// The {console} hash tag keeps every session on one Redis Cluster slot; the
// id is hashed so that reading Redis (a dump, MONITOR) yields nothing a
// browser could present. The value is the JSON Session; the key's TTL is the
// nearer of the idle and the absolute deadline, and the stored times are
// checked again on every read so a clock other than Redis's decides.
type Sessions struct {
	rdb      redis.UniversalClient
	prefix   string
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

// NewSessions returns a session store. Zero timeouts take the defaults; now
// may be nil for time.Now.
func NewSessions(rdb redis.UniversalClient, prefix string, idle, absolute time.Duration, now func() time.Time) *Sessions {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if absolute <= 0 {
		absolute = DefaultAbsoluteTimeout
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{rdb: rdb, prefix: prefix, idle: idle, absolute: absolute, now: now}
}

func (s *Sessions) key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.prefix + "console:{console}:sess:" + hex.EncodeToString(sum[:])
}

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID is the shape randomToken produces; anything else is not looked up.
func validID(id string) bool {
	if len(id) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil
}

// Create starts a session for an admin, under the admin's current session
// epoch, and returns its fresh id (for the cookie). Returns Unavailable when
// Redis cannot answer.
func (s *Sessions) Create(ctx context.Context, adminID int64, email string, epoch int) (string, Session, error) {
	now := s.now()
	sess := Session{AdminID: adminID, Email: email, Epoch: epoch, CSRF: randomToken(), Created: now, LastSeen: now}
	id := randomToken()
	if err := s.save(ctx, id, sess, redis.SetArgs{Mode: "NX"}); err != nil {
		return "", Session{}, fmt.Errorf("console.Sessions.Create: %w", err)
	}
	return id, sess, nil
}

// ttl is how long Redis should keep sess: until the nearer deadline.
func (s *Sessions) ttl(sess Session) time.Duration {
	now := s.now()
	return min(sess.LastSeen.Add(s.idle).Sub(now), sess.Created.Add(s.absolute).Sub(now))
}

func (s *Sessions) save(ctx context.Context, id string, sess Session, args redis.SetArgs) error {
	ttl := s.ttl(sess)
	if ttl <= 0 {
		return errNoSession
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	args.TTL = ttl
	err = s.rdb.SetArgs(ctx, s.key(id), b, args).Err()
	if errors.Is(err, redis.Nil) { // NX/XX not met
		return errNoSession
	}
	if err != nil {
		return &callscope.Error{Kind: callscope.Unavailable, Message: "session store unavailable", Err: err}
	}
	return nil
}

// Get returns the live session id names and extends its idle deadline.
// Returns Unauthorized for an unknown, malformed, idle-expired or
// absolutely expired session (an expired one is deleted), Unavailable when
// Redis cannot answer.
func (s *Sessions) Get(ctx context.Context, id string) (Session, error) {
	if !validID(id) {
		return Session{}, errNoSession
	}
	b, err := s.rdb.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, errNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("console.Sessions.Get: %w",
			&callscope.Error{Kind: callscope.Unavailable, Message: "session store unavailable", Err: err})
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		_ = s.Delete(ctx, id)
		return Session{}, errNoSession
	}
	now := s.now()
	if !now.Before(sess.LastSeen.Add(s.idle)) || !now.Before(sess.Created.Add(s.absolute)) {
		_ = s.Delete(ctx, id)
		return Session{}, errNoSession
	}
	sess.LastSeen = now
	// XX: a logout racing this request must not be undone by the refresh.
	if err := s.save(ctx, id, sess, redis.SetArgs{Mode: "XX"}); err != nil {
		if callscope.Is(err, callscope.Unauthorized) {
			return Session{}, err
		}
		return Session{}, fmt.Errorf("console.Sessions.Get: %w", err)
	}
	return sess, nil
}

// Delete ends a session. Deleting an unknown session is not an error.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	if err := s.rdb.Del(ctx, s.key(id)).Err(); err != nil {
		return fmt.Errorf("console.Sessions.Delete: %w",
			&callscope.Error{Kind: callscope.Unavailable, Message: "session store unavailable", Err: err})
	}
	return nil
}
