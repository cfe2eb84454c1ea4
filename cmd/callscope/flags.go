package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The value types of command flags: each refuses a bad value with an error
// that says what is accepted, which parse puts after the flag as typed.

// flagEnv names the variable of a command flag: --auth-key → CALLSCOPE_AUTH_KEY.
func flagEnv(name string) string {
	return "CALLSCOPE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// listFlag is a repeatable flag (--cidr A --cidr B); its variable holds a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// durationFlag is a duration flag whose errors say what is accepted.
type durationFlag time.Duration

func (d *durationFlag) String() string { return fmtDuration(time.Duration(*d)) }
func (d *durationFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return fmt.Errorf("a duration needs a unit, such as %ss, 15m or 1h", s)
		}
	}
	if err != nil || v <= 0 {
		return errors.New("must be a positive duration such as 90s, 15m or 1h")
	}
	*d = durationFlag(v)
	return nil
}

// fmtDuration prints 1h, 15m, 1h30m, 90s rather than 1h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// timeFlag is an RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return errors.New("must be an RFC 3339 time such as 2026-03-01T12:00:00Z")
	}
	f.t = t
	return nil
}

// intFlag is a bounded integer flag: a value out of range is refused where
// it is typed, never replaced by a default.
type intFlag struct {
	n      int
	lo, hi int
}

func (f *intFlag) String() string {
	if f == nil {
		return ""
	}
	return strconv.Itoa(f.n)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < f.lo || n > f.hi {
		return fmt.Errorf("must be a whole number from %d to %d", f.lo, f.hi)
	}
	f.n = n
	return nil
}
