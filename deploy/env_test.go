// Package deploy holds the packaging examples (systemd unit, environment
// file, sysctl settings); its test keeps them true to the binary.
package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// env.example is what an operator copies to /etc/callscope/env: it must
// name every setting the binary reads.
func TestEnvExampleListsEverySetting(t *testing.T) {
	src, err := os.ReadFile("../cmd/callscope/config.go")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("env.example")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`"(CALLSCOPE_[A-Z0-9_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(names) < 20 {
		t.Fatalf("found only %d settings in config.go: has its shape changed?", len(names))
	}
	for _, m := range names {
		if !regexp.MustCompile(`(?m)^#?` + m[1] + `=`).Match(example) {
			t.Errorf("env.example does not list %s", m[1])
		}
	}
}

// The unit must keep its hardening and point at the paths the README and
// env.example name.
func TestUnit(t *testing.T) {
	unit, err := os.ReadFile("callscope.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"User=callscope", "EnvironmentFile=/etc/callscope/env", "StateDirectory=callscope",
		"Environment=CALLSCOPE_SPOOL_DIR=/var/lib/callscope/spool", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "Restart=on-failure", "LimitNOFILE=", "ExecStart=/usr/local/bin/callscope serve",
	} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("callscope.service lacks %q", want)
		}
	}
}
