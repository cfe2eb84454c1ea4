package main

import (
	"os"
	"strings"
	"testing"
)

// The README's settings table is the user's reference: it must name every
// setting the binary reads.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !strings.Contains(string(readme), "`"+s.env+"`") {
			t.Errorf("README.md does not list %s", s.env)
		}
	}
}
