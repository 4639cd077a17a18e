package pbxsim

import (
	"bytes"
	"compress/gzip"
)

// GzipBomb returns a gzip stream that inflates to head, size bytes of "a", and tail: a hostile
// answer (a JSON value whose one string is huge) for tests of a client's bounds. Gzip members may
// follow each other (net/http and gzip.Reader read them as one stream), so one compressed MiB of
// "a" is repeated rather than size bytes compressed: a bomb of gigabytes costs a few kilobytes a
// GiB to build.
func GzipBomb(head, tail string, size int) []byte {
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
		_, _ = zw.Write(b)                                       // a bytes.Buffer does not fail
		_ = zw.Close()
		return buf.Bytes()
	}
	out := member([]byte(head))
	mib := member(bytes.Repeat([]byte("a"), 1<<20))
	for range size >> 20 {
		out = append(out, mib...)
	}
	return append(out, member([]byte(tail))...)
}
