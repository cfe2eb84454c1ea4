package console

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
)

// AdminsProps is the administrators page: the list, disable and enable
// buttons, and the forms that add an admin and reset a password.
type AdminsProps struct {
	Chrome
	Admins   []auth.Admin
	SelfID   int64
	NewEmail string // the add form's email, kept after an error
	ResetFor string // the reset form's chosen admin, kept after an error
	Errors   map[string]string
	Notice   string
}

var adminNotices = map[string]string{
	"created":  "Administrator added.",
	"disabled": "Administrator disabled: their sessions have ended and they cannot log in.",
	"enabled":  "Administrator enabled: they can log in with the password they had.",
	"reset":    "Password reset: their sessions have ended; they log in with the new password.",
}

func (s *Server) adminsPage(c echo.Context) error {
	return s.renderAdmins(c, http.StatusOK, AdminsProps{Notice: adminNotices[c.QueryParam("done")]})
}

func (s *Server) renderAdmins(c echo.Context, status int, p AdminsProps) error {
	var err error
	if p.Admins, err = s.admins.List(ctx(c)); err != nil {
		return err
	}
	p.Chrome = s.page(c, "Administrators", "admins")
	p.SelfID = session(c).AdminID
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	return s.render(c, status, AdminsPage(p))
}

// adminFieldError puts an Invalid or Conflict error of the admin store on
// the form field it names (email, password) or on fallback.
func adminFieldError(p *AdminsProps, err error, fallback string) bool {
	if !fieldErrors(p.Errors, err, fallback) {
		return false
	}
	if msg, ok := p.Errors["password"]; ok && fallback == "reset_password" {
		delete(p.Errors, "password")
		p.Errors["reset_password"] = msg
	}
	return true
}

func (s *Server) createAdmin(c echo.Context) error {
	p := AdminsProps{NewEmail: strings.TrimSpace(c.FormValue("email")), Errors: map[string]string{}}
	a, err := s.admins.Create(ctx(c), p.NewEmail, c.FormValue("password"))
	if err != nil {
		if adminFieldError(&p, err, "email") {
			return s.renderAdmins(c, http.StatusBadRequest, p)
		}
		return err
	}
	s.audit(c, adminaudit.AdminCreate, 0, a.Email, "")
	return c.Redirect(http.StatusSeeOther, "/admins?done=created")
}

// setAdminDisabled is the disable and enable buttons. An admin cannot
// disable themselves: the console would lock out the one person at it.
func (s *Server) setAdminDisabled(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		email := c.FormValue("email")
		if disabled && strings.EqualFold(email, session(c).Email) {
			return callscope.Errorf(callscope.Invalid, "You cannot disable your own account; another administrator (or `callscope admin disable`) can.")
		}
		a, err := s.admins.SetDisabled(ctx(c), email, disabled)
		if err != nil {
			return err
		}
		action, done := adminaudit.AdminEnable, "enabled"
		if disabled {
			action, done = adminaudit.AdminDisable, "disabled"
		}
		s.audit(c, action, 0, a.Email, "")
		return c.Redirect(http.StatusSeeOther, "/admins?done="+done)
	}
}

// resetAdmin sets a new password for an admin and ends their sessions,
// the resetting admin's own included when they reset themselves.
func (s *Server) resetAdmin(c echo.Context) error {
	p := AdminsProps{ResetFor: c.FormValue("email"), Errors: map[string]string{}}
	a, err := s.admins.ResetPassword(ctx(c), p.ResetFor, c.FormValue("password"))
	if callscope.Is(err, callscope.NotFound) {
		p.Errors["reset_email"] = "Choose an administrator from the list."
		return s.renderAdmins(c, http.StatusBadRequest, p)
	}
	if err != nil {
		if adminFieldError(&p, err, "reset_password") {
			return s.renderAdmins(c, http.StatusBadRequest, p)
		}
		return err
	}
	s.audit(c, adminaudit.AdminReset, 0, a.Email, "")
	if a.ID == session(c).AdminID {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Redirect(http.StatusSeeOther, "/admins?done=reset")
}
