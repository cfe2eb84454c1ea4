//go:build race

package hep_test

const raceEnabled = true
