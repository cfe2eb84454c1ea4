package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/redisdb/redistest"
)

// TestSecretsNeverPrinted: --help, a flag error and a settings error show
// "(set)" for the secret key, both query credentials and the passwords in
// the database and Redis URLs, never their values.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := map[string]string{
		"CALLSCOPE_SECRET_KEY":         "secret-key-value-0123456789abcdef0123",
		"CALLSCOPE_QUERY_TOKEN":        "console-credential-value-42",
		"CALLSCOPE_VIEWER_QUERY_TOKEN": "viewer-credential-value-43",
		"CALLSCOPE_DATABASE_URL":       "postgres://callscope:db-password-value@127.0.0.1:1/callscope?sslmode=disable",
		"CALLSCOPE_REDIS_URL":          "redis://default:redis-password-value@127.0.0.1:1/0",
	}
	values := []string{"secret-key-value", "console-credential-value", "viewer-credential-value", "db-password-value", "redis-password-value"}
	for name, args := range map[string][]string{
		"Help":          {"serve", "--help"},
		"FlagError":     {"serve", "--no-such-flag"},
		"SettingsError": {"serve", "--log-format", "xml"},
		"StartFails":    {"serve", "--roles", "query"}, // the database refuses: the error names it, not its password
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, func(k string) string { return secrets[k] }, strings.NewReader(""), &out, &errOut)
			all := out.String() + errOut.String()
			if err != nil {
				all += err.Error()
			}
			for _, v := range values {
				if strings.Contains(all, v) {
					t.Errorf("printed %s:\n%s", v, all)
				}
			}
			if name == "Help" {
				for _, flag := range []string{"-secret-key", "-query-token", "-viewer-query-token"} {
					if !strings.Contains(all, flag) {
						t.Errorf("--help lacks %s", flag)
					}
				}
				if strings.Count(all, "(set)") < 5 {
					t.Errorf("--help shows (set) %d times, want 5:\n%s", strings.Count(all, "(set)"), all)
				}
			}
		})
	}
}

// TestViewerAloneWarnsOfAnEvictingRedis: a viewer started with nothing but
// its own settings (no secret key, a database URL nothing answers) runs,
// and says at once that its Redis may evict revocations.
func TestViewerAloneWarnsOfAnEvictingRedis(t *testing.T) {
	rdb := redistest.Server(t, "--maxmemory-policy", "allkeys-lru")
	env := map[string]string{
		"CALLSCOPE_ROLES":              "viewer",
		"CALLSCOPE_VIEWER_QUERY_TOKEN": "viewer-credential",
		"CALLSCOPE_QUERY_URL":          "http://127.0.0.1:1",
		"CALLSCOPE_REDIS_URL":          "redis://" + rdb.Options().Addr + "/0",
		"CALLSCOPE_PUBLIC_URL":         "http://127.0.0.1:8080",
		"CALLSCOPE_VIEWER_ADDR":        "127.0.0.1:0",
		"CALLSCOPE_METRICS_ADDR":       "",
		"CALLSCOPE_DATABASE_URL":       "postgres://nobody@127.0.0.1:1/none?sslmode=disable",
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), out, logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "callscope ready") {
		select {
		case err := <-done:
			t.Fatalf("the viewer alone did not start: %v\n%s%s", err, out.String(), logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if !strings.Contains(logs.String(), "maxmemory-policy=allkeys-lru") {
		t.Errorf("no warning about the evicting Redis:\n%s", logs.String())
	}
}
