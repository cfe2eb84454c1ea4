package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/callscope/callscope/ladder"
)

// callFixture is a realistic call through a proxy seen by two capture
// nodes: testdata/call.json.
type callFixture struct {
	Messages []ladder.Message
	Events   []ladder.Event
	Aliases  map[string]string
}

func MustLoadCall(tb testing.TB, name string) callFixture {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var f callFixture
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return f
}

func MustRender(tb testing.TB, c templ.Component) []byte {
	tb.Helper()
	b, err := Render(context.Background(), c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func MustDoc(tb testing.TB, html []byte) *goquery.Document {
	tb.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(html))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func texts(s *goquery.Selection) []string {
	var out []string
	s.Each(func(_ int, s *goquery.Selection) { out = append(out, s.Text()) })
	return out
}
