package query

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
)

// Client calls the query service. It is what viewer and console use for
// every endpoint of Server.Routes. Errors come back as *callscope.Error of
// the kind the server answered (NotFound, Invalid, Unauthorized, ...); a
// refused view token is an Unauthorized (or Unavailable) error wrapping a
// *TokenError, which in turn wraps the matching auth sentinel
// (auth.ErrExpired, auth.ErrRevoked, ...) so auth.Outcome reads it.
// Transport failures are Unavailable.
type Client struct {
	base  string
	token string
	hc    *http.Client
	// Timeout bounds every call whose context has no earlier deadline.
	Timeout time.Duration
}

// DefaultTimeout is Client.Timeout unless changed.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what the client reads: a call of thousands of messages is
// a few MB; anything far beyond is a fault.
const maxBody = 64 << 20

// NewClient returns a client of the query service at baseURL (e.g.
// "http://127.0.0.1:8081") authenticating admin calls with serviceToken.
// hc may be nil; without a Transport of its own it gets one that keeps
// up to 256 idle connections to query. (net/http's default keeps 2: a
// viewer serving 16 views at once then opened a connection to query for
// most of them, ~270 connections a second at 1,200 views a second.)
func NewClient(baseURL, serviceToken string, hc *http.Client) *Client {
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
	return &Client{base: strings.TrimRight(baseURL, "/"), token: serviceToken, hc: hc, Timeout: DefaultTimeout}
}

// TokenError is a view token the query service refused.
type TokenError struct {
	Code string // CodeExpired, CodeRevoked, CodeInvalid, CodeTenantInactive, CodeUnavailable
	// EmbedOrigins of the token's tenant, only when the signature was valid
	// (expired or revoked), so an error page may be framed for the customer.
	EmbedOrigins []string
}

func (e *TokenError) Error() string { return "view token refused: " + e.Code }

// Unwrap returns the auth sentinel of the code.
func (e *TokenError) Unwrap() error {
	switch e.Code {
	case CodeExpired:
		return auth.ErrExpired
	case CodeRevoked:
		return auth.ErrRevoked
	case CodeTenantInactive:
		return auth.ErrTenantInactive
	case CodeUnavailable:
		return auth.ErrUnavailable
	}
	return auth.ErrMalformed
}

// Search runs an admin search (across tenants when f.TenantID is 0).
func (c *Client) Search(ctx context.Context, f Filter) ([]CallSummary, string, error) {
	var r SearchResult
	if err := c.getJSON(ctx, "/internal/v1/admin/search?"+f.query().Encode(), c.token, &r); err != nil {
		return nil, "", fmt.Errorf("query.Client.Search: %w", err)
	}
	return r.Calls, r.Next, nil
}

func callQuery(tenantID int64, callID string, from, to time.Time) string {
	q := url.Values{"tenant_id": {strconv.FormatInt(tenantID, 10)}, "call_id": {callID},
		"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}
	return q.Encode()
}

// Call reads any tenant's call (admin). Returns NotFound as Store.Call does.
func (c *Client) Call(ctx context.Context, tenantID int64, callID string, from, to time.Time) (*Call, error) {
	call, err := c.getCall(ctx, "/internal/v1/admin/call?"+callQuery(tenantID, callID, from, to), c.token)
	if err != nil {
		return nil, fmt.Errorf("query.Client.Call: %w", err)
	}
	return call, nil
}

// PCAP downloads any tenant's call as PCAP (admin).
func (c *Client) PCAP(ctx context.Context, tenantID int64, callID string, from, to time.Time) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/admin/pcap?"+callQuery(tenantID, callID, from, to), c.token)
	if err != nil {
		return nil, fmt.Errorf("query.Client.PCAP: %w", err)
	}
	return b, nil
}

// Text downloads any tenant's call as text (admin).
func (c *Client) Text(ctx context.Context, tenantID int64, callID string, from, to time.Time) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/admin/text?"+callQuery(tenantID, callID, from, to), c.token)
	if err != nil {
		return nil, fmt.Errorf("query.Client.Text: %w", err)
	}
	return b, nil
}

// ViewCall reads the call a view token grants. The token travels in the
// Authorization header only, never in a URL.
func (c *Client) ViewCall(ctx context.Context, token string) (*Call, error) {
	call, err := c.getCall(ctx, "/internal/v1/view/call", token)
	if err != nil {
		return nil, fmt.Errorf("query.Client.ViewCall: %w", err)
	}
	return call, nil
}

// ViewText is the token's call as text.
func (c *Client) ViewText(ctx context.Context, token string) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/view/text", token)
	if err != nil {
		return nil, fmt.Errorf("query.Client.ViewText: %w", err)
	}
	return b, nil
}

// ViewPCAP is the token's call as PCAP; NotFound without scope pcap.
func (c *Client) ViewPCAP(ctx context.Context, token string) ([]byte, error) {
	b, err := c.getBytes(ctx, "/internal/v1/view/pcap", token)
	if err != nil {
		return nil, fmt.Errorf("query.Client.ViewPCAP: %w", err)
	}
	return b, nil
}

// TenantPublic returns what the viewer may know of tenant slug. Returns
// NotFound for an unknown tenant.
func (c *Client) TenantPublic(ctx context.Context, slug string) (TenantPublic, error) {
	var t TenantPublic
	if err := c.getJSON(ctx, "/internal/v1/tenants/"+url.PathEscape(slug)+"/public", c.token, &t); err != nil {
		return TenantPublic{}, fmt.Errorf("query.Client.TenantPublic: %w", err)
	}
	return t, nil
}

// ServerKey returns the public key of server signing key kid, or NotFound.
// With TenantKey it makes the Client an auth.KeyResolver.
func (c *Client) ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	k, err := c.jwk(ctx, "/internal/v1/keys/server/"+url.PathEscape(kid))
	if err != nil {
		return nil, fmt.Errorf("query.Client.ServerKey: %w", err)
	}
	return k, nil
}

// TenantKey returns tenant's registered public key kid, or NotFound.
func (c *Client) TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error) {
	k, err := c.jwk(ctx, "/internal/v1/keys/tenant/"+url.PathEscape(tenant)+"/"+url.PathEscape(kid))
	if err != nil {
		return nil, fmt.Errorf("query.Client.TenantKey: %w", err)
	}
	return k, nil
}

func (c *Client) jwk(ctx context.Context, path string) (crypto.PublicKey, error) {
	var k jose.JSONWebKey
	if err := c.getJSON(ctx, path, c.token, &k); err != nil {
		return nil, err
	}
	if !k.Valid() || !k.IsPublic() {
		return nil, callscope.Errorf(callscope.Internal, "query answered an unusable key")
	}
	return k.Key, nil
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

// getCall asks for a Call in the binary encoding and decodes whichever
// encoding the server answered with (an older one answers JSON).
func (c *Client) getCall(ctx context.Context, path, token string) (*Call, error) {
	var ctype string
	body, err := c.doAccept(ctx, http.MethodGet, path, token, nil, CallMediaType, &ctype)
	if err != nil {
		return nil, err
	}
	var call Call
	if ctype == CallMediaType {
		err = call.UnmarshalBinary(body)
	} else {
		err = json.Unmarshal(body, &call)
	}
	if err != nil {
		return nil, &callscope.Error{Kind: callscope.Internal, Message: "query answered a malformed call", Err: err}
	}
	return &call, nil
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, path, token string, reqBody []byte) ([]byte, error) {
	return c.doAccept(ctx, method, path, token, reqBody, "", nil)
}

// doAccept is do with an Accept header, reporting the answer's
// Content-Type in ctype when it is not nil.
func (c *Client) doAccept(ctx context.Context, method, path, token string, reqBody []byte, accept string, ctype *string) ([]byte, error) {
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
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if id := requestIDFrom(ctx); id != "" {
		req.Header.Set("X-Request-Id", id)
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
		if ctype != nil {
			*ctype = resp.Header.Get("Content-Type")
		}
		return body, nil
	}
	return nil, decodeError(resp.StatusCode, body)
}

// decodeError turns an error body back into the kind the server mapped.
func decodeError(status int, body []byte) error {
	var e tokenErrorBody
	_ = json.Unmarshal(body, &e)
	code := e.Error.Code
	// "invalid" is also the Invalid kind's code; only a 401 is a token's.
	switch code {
	case CodeExpired, CodeRevoked, CodeInvalid, CodeTenantInactive:
		if status != http.StatusUnauthorized {
			break
		}
		return &callscope.Error{Kind: callscope.Unauthorized, Message: e.Error.Message,
			Err: &TokenError{Code: code, EmbedOrigins: e.Error.EmbedOrigins}}
	case CodeUnavailable:
		if status == http.StatusServiceUnavailable {
			return &callscope.Error{Kind: callscope.Unavailable, Message: e.Error.Message, Err: &TokenError{Code: code}}
		}
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
