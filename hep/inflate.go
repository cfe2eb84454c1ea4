package hep

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// inflater holds what a Decoder reuses to inflate chunk 0x0010: senders
// disagree on the container (OpenSIPS and heplify use zlib, others gzip or
// raw deflate) and the chunk does not say, so each is tried in turn.
type inflater struct {
	src bytes.Reader
	gz  gzip.Reader
	zl  io.ReadCloser // implements zlib.Resetter once created
	fl  io.ReadCloser // implements flate.Resetter
	buf []byte
}

// errNotThisFormat marks a container whose header does not match, so the
// next one should be tried.
var errNotThisFormat = errors.New("not this format")

// inflate returns the inflated form of in, at most limit bytes long,
// aliasing the inflater's buffer. Memory use is bounded by limit whatever
// the compression ratio: reading stops one byte past the limit.
func (f *inflater) inflate(in []byte, limit int) ([]byte, error) {
	var errs [3]error
	for i, open := range [...]func([]byte) (io.Reader, error){f.openGzip, f.openZlib, f.openFlate} {
		r, err := open(in)
		if err != nil {
			errs[i] = err
			continue
		}
		out, err := f.readCapped(r, limit)
		if errors.Is(err, ErrTooLarge) {
			// A bomb in one container would be a bomb in the next: stop.
			return nil, err
		}
		if err == nil {
			return out, nil
		}
		errs[i] = err
	}
	return nil, fmt.Errorf("hep: chunk 0x0010: gzip: %v; zlib: %v; deflate: %v: %w", errs[0], errs[1], errs[2], ErrInflate)
}

func (f *inflater) openGzip(in []byte) (io.Reader, error) {
	if len(in) < 2 || in[0] != 0x1f || in[1] != 0x8b {
		return nil, errNotThisFormat
	}
	f.src.Reset(in)
	if err := f.gz.Reset(&f.src); err != nil {
		return nil, err
	}
	f.gz.Multistream(false)
	return &f.gz, nil
}

func (f *inflater) openZlib(in []byte) (io.Reader, error) {
	// RFC 1950: CM = 8 (deflate) and the header is a multiple of 31.
	if len(in) < 2 || in[0]&0x0f != 8 || (uint16(in[0])<<8|uint16(in[1]))%31 != 0 {
		return nil, errNotThisFormat
	}
	f.src.Reset(in)
	if f.zl == nil {
		// zlib has no zero value to Reset: create the reader on the first
		// stream that gets this far (nil again if its header was bad).
		r, err := zlib.NewReader(&f.src)
		f.zl = r
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	if err := f.zl.(zlib.Resetter).Reset(&f.src, nil); err != nil {
		return nil, err
	}
	return f.zl, nil
}

func (f *inflater) openFlate(in []byte) (io.Reader, error) {
	f.src.Reset(in)
	if f.fl == nil {
		f.fl = flate.NewReader(&f.src)
		return f.fl, nil
	}
	if err := f.fl.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return nil, err
	}
	return f.fl, nil
}

// readCapped reads r to EOF into f.buf, growing it up to limit+1 bytes.
func (f *inflater) readCapped(r io.Reader, limit int) ([]byte, error) {
	buf := f.buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				f.buf = buf[:0]
				return nil, fmt.Errorf("hep: chunk 0x0010: over %d bytes inflated: %w", limit, ErrTooLarge)
			}
			n := max(2*cap(buf), 4096)
			n = min(n, limit+1)
			grown := make([]byte, len(buf), n)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			f.buf = buf[:0]
			return nil, err
		}
	}
	f.buf = buf[:0]
	if len(buf) > limit {
		return nil, fmt.Errorf("hep: chunk 0x0010: over %d bytes inflated: %w", limit, ErrTooLarge)
	}
	return buf, nil
}
