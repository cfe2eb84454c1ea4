// Package static embeds the stylesheet and icons and serves them under
// content-hashed URLs, so browsers may cache them forever and a deploy
// changes every URL whose content changed.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed files
var files embed.FS

// asset is one embedded file with its hash.
type asset struct {
	name, hash, contentType string
	body                    []byte
}

// Hashes are computed on first use rather than in init, so importing the
// package costs nothing until a page is rendered.
var (
	loadOnce sync.Once
	assets   map[string]asset // by name, "app.css"
)

// hashLen is the number of hex digits of SHA-256 in a URL: 32 bits keep
// URLs short, and a collision only matters between two versions of one file.
const hashLen = 8

func load() {
	assets = map[string]asset{}
	entries, err := fs.ReadDir(files, "files")
	if err != nil {
		panic("static: embedded files missing: " + err.Error()) // a build defect, not a runtime condition
	}
	for _, e := range entries {
		body, err := files.ReadFile("files/" + e.Name())
		if err != nil {
			panic("static: " + err.Error())
		}
		sum := sha256.Sum256(body)
		assets[e.Name()] = asset{
			name:        e.Name(),
			hash:        hex.EncodeToString(sum[:])[:hashLen],
			contentType: contentType(e.Name()),
			body:        body,
		}
	}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

// URL returns the content-hashed URL of an embedded file:
// URL("app.css") == "/static/app.3f2a9c1d.css". It panics when name is not
// embedded: asking for a file that does not exist is a programming error
// that the first test rendering the page catches.
func URL(name string) string {
	loadOnce.Do(load)
	a, ok := assets[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return "/static/" + hashedName(a.name, a.hash)
}

// hashedName puts the hash before the extension: app.css -> app.3f2a9c1d.css.
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// Handler serves GET and HEAD /static/{name}.{hash}.{ext} with a cache
// lifetime of a year. A known name with another hash is a 404, not the
// current content: an old page must not get new CSS under an old URL that
// caches then pin. Mount it at /static/.
func Handler() http.Handler {
	loadOnce.Do(load)
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := lookup(strings.TrimPrefix(r.URL.Path, "/static/"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+a.hash+`"`)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

// lookup resolves "app.3f2a9c1d.css" to the asset it names.
func lookup(hashed string) (asset, bool) {
	ext := path.Ext(hashed)
	stem := strings.TrimSuffix(hashed, ext)
	dot := strings.LastIndexByte(stem, '.')
	if dot < 0 || strings.Contains(hashed, "/") {
		return asset{}, false
	}
	a, ok := assets[stem[:dot]+ext]
	if !ok || a.hash != stem[dot+1:] {
		return asset{}, false
	}
	return a, true
}
