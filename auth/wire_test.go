package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"testing"
)

// jsonObjectReference is the obvious, slow jsonObject: encoding/json's
// tokenizer, one member at a time. FuzzJSONObject holds the fast one to it.
func jsonObjectReference(data []byte) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		name, ok := tok.(string)
		if err != nil || !ok {
			return nil, false
		}
		if _, dup := m[name]; dup {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		m[name] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return m, true
}

func TestJSONObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string // nil: refused
	}{
		{`{}`, map[string]string{}},
		{` { "a" : 1 , "b":[1,{"c":"}"}] ,"d":"x\"y"} `, map[string]string{"a": `1`, "b": `[1,{"c":"}"}]`, "d": `"x\"y"`}},
		{`{"tid":"a","t\u0069d":"b"}`, nil}, // a duplicate once decoded
		{`{"a":1,"a":1}`, nil},
		{`{"a":1} {}`, nil},
		{`[{"a":1}]`, nil},
		{`{"a":}`, nil},
		{`{"a":true,"b":null,"c":-1.5e3}`, map[string]string{"a": "true", "b": "null", "c": "-1.5e3"}},
	} {
		got, err := jsonObject([]byte(tc.in))
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: accepted as %v", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		str := map[string]string{}
		for k, v := range got {
			str[k] = string(v)
		}
		if !maps.Equal(str, tc.want) {
			t.Errorf("%s: %v, want %v", tc.in, str, tc.want)
		}
	}
}

// FuzzJSONObject: the fast jsonObject accepts exactly what the reference
// accepts, with the same members and the same value bytes.
func FuzzJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"alg":"EdDSA","kid":"k1","typ":"call-view+jwt"}`, `{"a":{"b":[1,"]"]},"c":"\u00e9"}`,
		`{"tid":"a","t\u0069d":"b"}`, `{"\ud800":1,"\ufffd":2}`, "{\"\xff\":1,\"\xfe\":2}", `{"a":1}x`, ` {"a" : 1 } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := jsonObject(data)
		want, ok := jsonObjectReference(data)
		if (err == nil) != ok {
			t.Fatalf("%q: fast accepts %v, reference accepts %v", data, err == nil, ok)
		}
		if !ok {
			return
		}
		if !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("%q: fast %q, reference %q", data, got, want)
		}
	})
}
