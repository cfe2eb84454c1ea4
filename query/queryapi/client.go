package queryapi

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/web"
)

// Client calls the query service, presenting one credential: the console's
// (admin routes) or the viewer's (the edge's routes); view-token routes
// carry the customer's token instead. Errors come back as *callscope.Error
// of the kind the server answered (NotFound, Invalid, Unauthorized, ...);
// a refused view token is the very auth.Refusal query refused it with, so
// errors.Is(err, auth.ErrRevoked) and auth.RefusalOf read it. Transport
// failures are Unavailable.
type Client struct {
	base       string
	credential string
	hc         *http.Client
	// Timeout bounds every call whose context has no earlier deadline.
	Timeout time.Duration
}

// DefaultTimeout is Client.Timeout unless changed.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what the client reads: a call of thousands of messages is
// a few MB; anything far beyond is a fault.
const maxBody = 64 << 20

// NewClient returns a client of the query service at baseURL (e.g.
// "http://127.0.0.1:8081") presenting credential. hc may be nil; without a
// Transport of its own it gets one that keeps up to 256 idle connections
// to query: net/http's default keeps 2, and a busy viewer would otherwise
// open a connection to query for most of its views.
func NewClient(baseURL, credential string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	if hc.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		pooled := *hc
		pooled.Transport = t
		hc = &pooled
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), credential: credential, hc: hc, Timeout: DefaultTimeout}
}

// Search runs an admin search (across tenants when f.TenantID is 0).
func (c *Client) Search(ctx context.Context, f Filter) ([]CallSummary, string, error) {
	var r SearchResult
	if err := c.getJSON(ctx, "/internal/v1/admin/search?"+f.query().Encode(), c.credential, &r); err != nil {
		return nil, "", fmt.Errorf("queryapi.Client.Search: %w", err)
	}
	return r.Calls, r.Next, nil
}

// ListCalls reads a page of the calls list (admin; every tenant when
// f.TenantID is 0).
func (c *Client) ListCalls(ctx context.Context, f CallFilter) (CallPage, error) {
	var p CallPage
	if err := c.getJSON(ctx, "/internal/v1/admin/calls?"+f.Values().Encode(), c.credential, &p); err != nil {
		return p, fmt.Errorf("queryapi.Client.ListCalls: %w", err)
	}
	return p, nil
}

// CallStats reads the statistics of the calls f selects (admin).
func (c *Client) CallStats(ctx context.Context, f CallFilter) (CallStats, error) {
	var st CallStats
	if err := c.getJSON(ctx, "/internal/v1/admin/stats?"+f.Values().Encode(), c.credential, &st); err != nil {
		return st, fmt.Errorf("queryapi.Client.CallStats: %w", err)
	}
	return st, nil
}

func callQuery(tenantID int64, callID string, from, to time.Time) string {
	q := url.Values{"tenant_id": {strconv.FormatInt(tenantID, 10)}, "call_id": {callID},
		"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}
	return q.Encode()
}

// Call reads any tenant's call (admin). Returns NotFound as Store.Call does.
func (c *Client) Call(ctx context.Context, tenantID int64, callID string, from, to time.Time) (*Call, error) {
	var call Call
	if err := c.getJSON(ctx, "/internal/v1/admin/call?"+callQuery(tenantID, callID, from, to), c.credential, &call); err != nil {
		return nil, fmt.Errorf("queryapi.Client.Call: %w", err)
	}
	return &call, nil
}

// PCAP downloads any tenant's call as PCAP (admin).
func (c *Client) PCAP(ctx context.Context, tenantID int64, callID string, from, to time.Time) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/admin/pcap?"+callQuery(tenantID, callID, from, to), c.credential)
	if err != nil {
		return nil, fmt.Errorf("queryapi.Client.PCAP: %w", err)
	}
	return b, nil
}

// Text downloads any tenant's call as text (admin).
func (c *Client) Text(ctx context.Context, tenantID int64, callID string, from, to time.Time) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/admin/text?"+callQuery(tenantID, callID, from, to), c.credential)
	if err != nil {
		return nil, fmt.Errorf("queryapi.Client.Text: %w", err)
	}
	return b, nil
}

// ViewCall reads the call a view token grants. The token travels in the
// Authorization header only, never in a URL.
func (c *Client) ViewCall(ctx context.Context, token string) (*Call, error) {
	var call Call
	if err := c.getJSON(ctx, "/internal/v1/view/call", token, &call); err != nil {
		return nil, fmt.Errorf("queryapi.Client.ViewCall: %w", err)
	}
	return &call, nil
}

// ViewText is the token's call as text.
func (c *Client) ViewText(ctx context.Context, token string) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/view/text", token)
	if err != nil {
		return nil, fmt.Errorf("queryapi.Client.ViewText: %w", err)
	}
	return b, nil
}

// ViewPCAP is the token's call as PCAP; NotFound without scope pcap.
func (c *Client) ViewPCAP(ctx context.Context, token string) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/view/pcap", token)
	if err != nil {
		return nil, fmt.Errorf("queryapi.Client.ViewPCAP: %w", err)
	}
	return b, nil
}

// TenantPublic is what the viewer may know of a tenant: enough to frame its
// pages and label its endpoints.
type TenantPublic struct {
	Slug         string            `json:"slug"`
	Active       bool              `json:"active"`
	EmbedOrigins []string          `json:"embed_origins"`
	Aliases      map[string]string `json:"aliases"`
}

// TenantPublic returns what the viewer may know of tenant slug. Returns
// NotFound for an unknown tenant.
func (c *Client) TenantPublic(ctx context.Context, slug string) (TenantPublic, error) {
	var t TenantPublic
	if err := c.getJSON(ctx, "/internal/v1/tenants/public?"+url.Values{"slug": {slug}}.Encode(), c.credential, &t); err != nil {
		return TenantPublic{}, fmt.Errorf("queryapi.Client.TenantPublic: %w", err)
	}
	return t, nil
}

// ServerKey returns the public key of server signing key kid, or NotFound.
// With TenantKey it makes the Client an auth.KeyResolver. The kid and the
// tenant travel as query parameters, encoded and decoded exactly once, so
// that query looks up exactly the kid the token names.
func (c *Client) ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	k, err := c.jwk(ctx, "/internal/v1/keys/server?"+url.Values{"kid": {kid}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("queryapi.Client.ServerKey: %w", err)
	}
	return k, nil
}

// TenantKey returns tenant's registered public key kid, or NotFound.
func (c *Client) TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error) {
	k, err := c.jwk(ctx, "/internal/v1/keys/tenant?"+url.Values{"tenant": {tenant}, "kid": {kid}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("queryapi.Client.TenantKey: %w", err)
	}
	return k, nil
}

func (c *Client) jwk(ctx context.Context, path string) (crypto.PublicKey, error) {
	var k jose.JSONWebKey
	if err := c.getJSON(ctx, path, c.credential, &k); err != nil {
		return nil, err
	}
	if !k.Valid() || !k.IsPublic() {
		return nil, callscope.Errorf(callscope.Internal, "query answered an unusable key")
	}
	return k.Key, nil
}

// SyncRevocations asks query to rebuild tenant's revocation state in Redis
// from PostgreSQL, after Redis lost it. Returns NotFound for an unknown
// tenant.
func (c *Client) SyncRevocations(ctx context.Context, tenant string) error {
	_, err := c.do(ctx, http.MethodPost, "/internal/v1/revocations/sync?"+url.Values{"tenant": {tenant}}.Encode(), c.credential, []byte("{}"))
	if err != nil {
		return fmt.Errorf("queryapi.Client.SyncRevocations: %w", err)
	}
	return nil
}

// ViewRecord is one successful public view, reported by the viewer (which
// holds no database credential) for the tenant's view audit.
type ViewRecord struct {
	At        time.Time `json:"at"`
	Tenant    string    `json:"tenant"`
	CallID    string    `json:"call_id"`
	JTI       string    `json:"jti"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
}

// RecordViews reports successful views to the query service's audit.
func (c *Client) RecordViews(ctx context.Context, views []ViewRecord) error {
	body, err := json.Marshal(views)
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, http.MethodPost, "/internal/v1/audit/views", c.credential, body); err != nil {
		return fmt.Errorf("queryapi.Client.RecordViews: %w", err)
	}
	return nil
}

func (c *Client) getJSON(ctx context.Context, path, token string, dst any) error {
	body, err := c.getBytes(ctx, path, token)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return &callscope.Error{Kind: callscope.Internal, Message: "query answered malformed JSON", Err: err}
	}
	return nil
}

func (c *Client) getBytes(ctx context.Context, path, token string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, token, nil)
}

// do sends one request and returns the body of a 2xx answer. The request
// carries the caller's request id, so that query's log lines of it share
// the id of the viewer's or the console's.
func (c *Client) do(ctx context.Context, method, path, token string, reqBody []byte) ([]byte, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if id := web.RequestIDFrom(ctx); id != "" {
		req.Header.Set(web.HeaderRequestID, id)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		// The error names the URL, which never holds a token.
		return nil, &callscope.Error{Kind: callscope.Unavailable, Message: "query service unavailable", Err: err}
	}
	defer resp.Body.Close()
	body, err := readBody(resp)
	if err != nil {
		return nil, &callscope.Error{Kind: callscope.Unavailable, Message: "query service unavailable", Err: err}
	}
	if len(body) > maxBody {
		return nil, callscope.Errorf(callscope.Internal, "query answer exceeds %d bytes", maxBody)
	}
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	return nil, decodeError(resp.StatusCode, body)
}

// decodeError turns an error body, {"error": {"code", "message", "field"}},
// back into the error the server mapped: a refused view token into its
// auth.Refusal, anything else into its kind.
func decodeError(status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	code := e.Error.Code
	if r, ok := auth.ParseRefusal(code); ok && web.Status(r.Kind()) == status {
		return r.Err()
	}
	kind := callscope.Kind(code)
	switch kind {
	case callscope.NotFound, callscope.Invalid, callscope.Unauthorized, callscope.Forbidden,
		callscope.Conflict, callscope.Unavailable, callscope.RateLimited:
	default:
		kind = kindOfStatus(status)
	}
	msg := e.Error.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &callscope.Error{Kind: kind, Field: e.Error.Field, Message: msg}
}

func kindOfStatus(status int) callscope.Kind {
	switch status {
	case http.StatusNotFound:
		return callscope.NotFound
	case http.StatusBadRequest:
		return callscope.Invalid
	case http.StatusUnauthorized:
		return callscope.Unauthorized
	case http.StatusForbidden:
		return callscope.Forbidden
	case http.StatusConflict:
		return callscope.Conflict
	case http.StatusTooManyRequests:
		return callscope.RateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return callscope.Unavailable
	}
	return callscope.Internal
}

// readBody reads at most maxBody+1 bytes of resp, into one allocation
// when the server said how long the body is.
func readBody(resp *http.Response) ([]byte, error) {
	lr := io.LimitReader(resp.Body, maxBody+1)
	if n := resp.ContentLength; n > 0 && n <= maxBody {
		// ReadFrom grows the buffer unless MinRead bytes are free, also
		// for the last read that only sees EOF.
		buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
		_, err := buf.ReadFrom(lr)
		return buf.Bytes(), err
	}
	return io.ReadAll(lr)
}
