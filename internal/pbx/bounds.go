package pbx

import (
	"io"
	"net/http"
)

// A boundedReader reads an answer up to a bound: the read that would pass it fails with a
// *TooLargeError (and so does every read after it). It reads the decompressed stream, so a gzip
// bomb costs no more than the bound.
type boundedReader struct {
	r    io.Reader
	left int64 // bytes that may still be read
	err  *TooLargeError
}

func newBoundedReader(r io.Reader, method, path string, maxBytes int64) *boundedReader {
	return &boundedReader{r: r, left: maxBytes, err: &TooLargeError{Method: method, Path: path, MaxBytes: maxBytes}}
}

// Read reads at most one byte past the bound, to tell an answer of exactly the bound from a
// longer one.
func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), -1
		return n, b.err
	}
	b.left -= int64(n)
	return n, err
}

// boundedTransport bounds the bodies of the answers of next, for callers that read the body
// themselves (oauth2, for the token endpoint at path). The first bound that fired is kept in over,
// since oauth2 keeps only the text of a read error.
type boundedTransport struct {
	next     http.RoundTripper
	path     string
	maxBytes int64
	over     **TooLargeError
}

// RoundTrip sends req and bounds the answer's body.
func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{
		boundedReader: newBoundedReader(resp.Body, req.Method, t.path, t.maxBytes),
		closer:        resp.Body,
		over:          t.over,
	}
	return resp, nil
}

// boundedBody is a bounded answer body that records its bound firing.
type boundedBody struct {
	*boundedReader
	closer io.Closer
	over   **TooLargeError
}

func (b *boundedBody) Read(p []byte) (int, error) {
	n, err := b.boundedReader.Read(p)
	if err == b.err && *b.over == nil { //nolint:errorlint // the reader's own error value, never wrapped
		*b.over = b.err
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.closer.Close() }
