package scenario

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestGenerateAnswered(t *testing.T) {
	msgs := loadCall(t, "answered.txt")
	uac, uas, err := Pair(msgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uac:\n%s", uac.XML)
	t.Logf("uas:\n%s", uas.XML)
	wantUAC := []string{"send INVITE", "recv 100 optional", "recv 180 optional", "recv 200", "send ACK", "pause 500", "send BYE", "recv 200"}
	if got := outline(t, uac.XML); !slices.Equal(got, wantUAC) {
		t.Errorf("uac steps\n got %q\nwant %q", got, wantUAC)
	}
	wantUAS := []string{"recv INVITE", "send 100", "pause 18", "send 180", "pause 300", "send 200", "recv ACK", "recv BYE", "send 200"}
	if got := outline(t, uas.XML); !slices.Equal(got, wantUAS) {
		t.Errorf("uas steps\n got %q\nwant %q", got, wantUAS)
	}
	_ = errors.New
	_ = strings.Contains
}

func TestSIPpPlaysAnswered(t *testing.T) {
	needSIPp(t)
	uac, uas, err := Pair(loadCall(t, "answered.txt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sippParses(t, uac)
	sippParses(t, uas)
	play(t, uac, uas)
}
