package auth_test

import (
	"context"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db/dbtest"
)

func TestAdminManagement(t *testing.T) {
	ctx := context.Background()
	s := auth.NewAdminStore(dbtest.New(t), auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	const pw, pw2 = "correct horse battery", "staple staple staple"
	ops, err := s.Create(ctx, "ops@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "Alice@Example.com", pw); err != nil {
		t.Fatal(err)
	}
	login := func(email, password string) error {
		_, err := s.Authenticate(ctx, email, password)
		return err
	}

	t.Run("List", func(t *testing.T) {
		list, err := s.List(ctx)
		if err != nil || len(list) != 2 || list[0].Email != "Alice@Example.com" || list[1].Email != "ops@example.com" {
			t.Fatalf("List = %+v, %v", list, err)
		}
		if a, err := s.ByEmail(ctx, "OPS@example.COM"); err != nil || a.ID != ops.ID {
			t.Fatalf("ByEmail = %+v, %v", a, err)
		}
	})
	t.Run("Disable", func(t *testing.T) {
		a, err := s.SetDisabled(ctx, "ops@example.com", true)
		if err != nil || !a.Disabled || a.SessionEpoch != ops.SessionEpoch+1 {
			t.Fatalf("SetDisabled = %+v, %v", a, err)
		}
		if err := login("ops@example.com", pw); !callscope.Is(err, callscope.Unauthorized) {
			t.Fatalf("a disabled admin logged in: %v", err)
		}
		// Disabling twice does not move the epoch again.
		if again, err := s.SetDisabled(ctx, "ops@example.com", true); err != nil || again.SessionEpoch != a.SessionEpoch {
			t.Fatalf("second disable: %+v, %v", again, err)
		}
		b, err := s.SetDisabled(ctx, "ops@example.com", false)
		if err != nil || b.Disabled || b.SessionEpoch != a.SessionEpoch {
			t.Fatalf("enable = %+v, %v", b, err)
		}
		if err := login("ops@example.com", pw); err != nil {
			t.Fatalf("an enabled admin refused: %v", err)
		}
	})
	t.Run("Reset", func(t *testing.T) {
		before, _ := s.ByEmail(ctx, "alice@example.com")
		if _, err := s.ResetPassword(ctx, "alice@example.com", "short"); !callscope.Is(err, callscope.Invalid) {
			t.Fatalf("short password: %v", err)
		}
		a, err := s.ResetPassword(ctx, "alice@example.com", pw2)
		if err != nil || a.SessionEpoch != before.SessionEpoch+1 {
			t.Fatalf("ResetPassword = %+v, %v", a, err)
		}
		if err := login("alice@example.com", pw); !callscope.Is(err, callscope.Unauthorized) {
			t.Fatalf("the old password still works: %v", err)
		}
		if err := login("alice@example.com", pw2); err != nil {
			t.Fatalf("the new password fails: %v", err)
		}
		// The other admin is untouched.
		if err := login("ops@example.com", pw); err != nil {
			t.Fatalf("ops: %v", err)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		for name, err := range map[string]error{
			"ByEmail":       func() error { _, err := s.ByEmail(ctx, "nobody@example.com"); return err }(),
			"SetDisabled":   func() error { _, err := s.SetDisabled(ctx, "nobody@example.com", true); return err }(),
			"ResetPassword": func() error { _, err := s.ResetPassword(ctx, "nobody@example.com", pw2); return err }(),
		} {
			if !callscope.Is(err, callscope.NotFound) {
				t.Errorf("%s: %v, want NotFound", name, err)
			}
		}
	})
}
