//go:build !race

package hep_test

const raceEnabled = false
