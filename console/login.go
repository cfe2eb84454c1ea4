package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
)

// sessionKey is where requireAdmin leaves the *Session.
const (
	sessionKey   = "console.session"
	sessionIDKey = "console.sid"
)

func session(c echo.Context) *Session {
	s, _ := c.Get(sessionKey).(*Session)
	return s
}

// cookie names: with Secure cookies the __Host- prefix makes the browser
// refuse any cookie of that name set by a sibling domain or without Path=/.
func (s *Server) sessionCookie() string {
	if s.cfg.SecureCookies {
		return "__Host-callscope_session"
	}
	return "callscope_session"
}

func (s *Server) loginCookie() string {
	if s.cfg.SecureCookies {
		return "__Host-callscope_login"
	}
	return "callscope_login"
}

func (s *Server) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// requireAdmin admits requests with a live session of an enabled admin.
// Anyone else is sent to the login page, which brings them back to a GET
// page afterwards; posts carry on at the page they came from.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(s.sessionCookie())
		if err != nil {
			return s.toLogin(c)
		}
		sess, err := s.sessions.Get(ctx(c), ck.Value)
		if callscope.Is(err, callscope.Unauthorized) {
			return s.toLogin(c)
		}
		if err != nil {
			return err
		}
		// A disabled or deleted admin loses every session at once, and so
		// does one whose password was reset (the epoch rose).
		if a, err := s.admins.ByID(ctx(c), sess.AdminID); err != nil || a.Disabled || a.SessionEpoch != sess.Epoch {
			if err != nil && !callscope.Is(err, callscope.NotFound) {
				return err
			}
			_ = s.sessions.Delete(ctx(c), ck.Value)
			return s.toLogin(c)
		}
		c.Set(sessionKey, &sess)
		c.Set(sessionIDKey, ck.Value)
		if c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			if err := s.checkCSRF(c, sess.CSRF); err != nil {
				return err
			}
		}
		return next(c)
	}
}

func (s *Server) toLogin(c echo.Context) error {
	target := "/login"
	if c.Request().Method == http.MethodGet && c.Request().URL.Path != "/" {
		target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
	}
	return c.Redirect(http.StatusSeeOther, target)
}

var errCSRF = callscope.Errorf(callscope.Forbidden, "This form has expired or did not come from the console. Go back, reload the page and try again.")

// checkCSRF refuses a state-changing request unless the browser says it
// came from this site (Sec-Fetch-Site, Origin: either may be absent in
// older browsers, never wrong) and it carries the expected token in the
// "csrf" form field, compared in constant time.
func (s *Server) checkCSRF(c echo.Context, want string) error {
	r := c.Request()
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errCSRF
	}
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrigin(c, o) {
		return errCSRF
	}
	got := c.FormValue("csrf")
	if want == "" || len(got) != len(want) || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

// sameOrigin reports whether origin is the console itself: the Host the
// request was sent to, or the configured ConsoleURL.
func (s *Server) sameOrigin(c echo.Context, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null" from sandboxed frames and file: pages
	}
	if s.cfg.ConsoleURL != "" {
		if cu, err := url.Parse(s.cfg.ConsoleURL); err == nil && strings.EqualFold(cu.Scheme, u.Scheme) && strings.EqualFold(cu.Host, u.Host) {
			return true
		}
	}
	return strings.EqualFold(u.Host, c.Request().Host)
}

// loginToken returns the pre-session CSRF token of the login form: a
// double-submit cookie, since there is no session to hold it yet. It stops
// a third-party page from logging the browser into an attacker's account.
func (s *Server) loginToken(c echo.Context) string {
	if ck, err := c.Cookie(s.loginCookie()); err == nil && validID(ck.Value) {
		return ck.Value
	}
	t := randomToken()
	s.setCookie(c, s.loginCookie(), t, 3600)
	return t
}

func (s *Server) loginPage(c echo.Context) error {
	// An admin who is logged in already has nothing to do here.
	if ck, err := c.Cookie(s.sessionCookie()); err == nil {
		if _, err := s.sessions.Get(ctx(c), ck.Value); err == nil {
			return c.Redirect(http.StatusSeeOther, localPath(c.QueryParam("next")))
		}
	}
	return s.render(c, http.StatusOK, LoginPage(LoginProps{
		Chrome: s.chrome(c, nil, "Log in", ""), Token: s.loginToken(c), Next: localPath(c.QueryParam("next")),
	}))
}

// login checks the budget of the client IP and of the account before any
// password work, so a guessing script costs one Redis round trip per try.
// Every refusal says the same thing: it must not reveal which emails exist.
func (s *Server) login(c echo.Context) error {
	p := LoginProps{
		Chrome: s.chrome(c, nil, "Log in", ""),
		Email:  strings.TrimSpace(c.FormValue("email")),
		Next:   localPath(c.FormValue("next")),
	}
	ck, err := c.Cookie(s.loginCookie())
	if err != nil || s.checkCSRF(c, ck.Value) != nil {
		p.Token = s.loginToken(c)
		p.Error = "Your login form had expired. Please try again."
		return s.render(c, http.StatusForbidden, LoginPage(p))
	}
	p.Token = ck.Value
	password := c.FormValue("password")
	if p.Email == "" || password == "" {
		p.Error = "Enter your email and password."
		return s.render(c, http.StatusBadRequest, LoginPage(p))
	}

	for _, b := range []struct {
		key   string
		limit func() (bool, time.Duration, error)
	}{
		{"ip", func() (bool, time.Duration, error) {
			return s.limiter.Allow(ctx(c), "rl:console-login-ip:{"+subject(clientIP(c))+"}", s.cfg.LoginPerIP)
		}},
		{"account", func() (bool, time.Duration, error) {
			return s.limiter.Allow(ctx(c), "rl:console-login-acct:{"+subject(strings.ToLower(p.Email))+"}", s.cfg.LoginPerAccount)
		}},
	} {
		ok, retry, err := b.limit()
		if err != nil {
			return err // Redis down: no sessions either, so failing closed changes nothing
		}
		if !ok {
			s.log.WarnContext(ctx(c), "console login throttled", "by", b.key, "request_id", c.Get("request_id"))
			c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(retry.Seconds()))))
			p.Error = "Too many login attempts. Please wait " + waitText(retry) + " and try again."
			return s.render(c, http.StatusTooManyRequests, LoginPage(p))
		}
	}

	a, err := s.admins.Authenticate(ctx(c), p.Email, password)
	if callscope.Is(err, callscope.Unauthorized) {
		p.Error = "Wrong email or password."
		return s.render(c, http.StatusUnauthorized, LoginPage(p))
	}
	if err != nil {
		return err
	}
	// A new id at every login: a session id planted before login (session
	// fixation) is worthless afterwards.
	if old, err := c.Cookie(s.sessionCookie()); err == nil {
		_ = s.sessions.Delete(ctx(c), old.Value)
	}
	id, _, err := s.sessions.Create(ctx(c), a.ID, a.Email, a.SessionEpoch)
	if err != nil {
		return err
	}
	s.setCookie(c, s.sessionCookie(), id, 0)
	s.setCookie(c, s.loginCookie(), "", -1)
	s.auditAs(c, a.ID, a.Email, adminaudit.Login, 0, "", "")
	return c.Redirect(http.StatusSeeOther, p.Next)
}

func (s *Server) logout(c echo.Context) error {
	id, _ := c.Get(sessionIDKey).(string)
	if err := s.sessions.Delete(ctx(c), id); err != nil {
		return err
	}
	s.audit(c, adminaudit.Logout, 0, "", "")
	s.setCookie(c, s.sessionCookie(), "", -1)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// subject hashes a rate-limit subject: emails may hold any character, and
// a short fixed-form key keeps Redis tidy.
func subject(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

func waitText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", max(1, int(math.Ceil(d.Seconds()))))
	case d < 2*time.Minute:
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
}
