package pbx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"
)

// list pages through a collection: page 1, 2, ... with per_page set to the client's page size,
// until a page comes back shorter than that (UPSTREAM-API 4.13: lists are bare arrays with no
// total and no cursor). ASSUMPTION (UPSTREAM-API 2.6, seen only in SDKs): page is 1-based, every
// list takes page and per_page, and the PBX honours per_page up to the page size; a PBX that
// capped it lower would end the list early. Objects are yielded as they arrive; the first error is yielded once and
// ends the sequence. An object seen on an earlier page is not yielded again: objects can shift
// between pages while others change the collection. A list has at most maxPages pages, at most as
// many objects as that many full pages hold, and at most listAnswers times the bound of one
// answer in bytes, all pages together: a PBX that pages on and on, or answers each page with
// objects as large as the bound allows, fails with a *TooLargeError rather than filling the
// memory.
func list[T any](ctx context.Context, c *Client, ep endpoint, filter url.Values, id func(*T) int64) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		seen := map[int64]struct{}{}
		maxPages := c.maxPages(ep)
		left := maxPages * c.pageSize // objects the list may still hold
		tooLarge := &TooLargeError{Method: http.MethodGet, Path: ep.path, MaxPages: maxPages}
		maxBytes := listAnswers * c.maxAnswerBytes
		bytesLeft := maxBytes // bytes the list's pages may still take
		tooLong := &TooLargeError{Method: http.MethodGet, Path: ep.path, MaxListBytes: maxBytes}
		for page := 1; ; page++ {
			if page > maxPages {
				yield(zero, tooLarge)
				return
			}
			q := url.Values{}
			for k, v := range filter {
				q[k] = v
			}
			q.Set("page", strconv.Itoa(page))
			q.Set("per_page", strconv.Itoa(c.pageSize))
			items, used, err := listPage[T](ctx, c, ep, q, left, tooLarge, bytesLeft, tooLong)
			if err != nil {
				yield(zero, err)
				return
			}
			left -= len(items)
			bytesLeft -= used
			fresh := 0
			for i := range items {
				k := id(&items[i])
				if _, dup := seen[k]; dup {
					continue
				}
				seen[k] = struct{}{}
				fresh++
				if !yield(items[i], nil) {
					return
				}
			}
			if len(items) < c.pageSize {
				return
			}
			if fresh == 0 {
				// A full page of objects already seen: the PBX ignores page, and paging further
				// would never end.
				yield(zero, fmt.Errorf("GET %s: page %d repeats earlier pages; the PBX seems to ignore page", ep.path, page))
				return
			}
		}
	}
}

// maxPages is the bound on the pages of one list of ep's collection: enough for twice the objects
// the client's limits allow, plus the last, short page, when the PBX reported a limit for the
// collection; DefaultMaxPages otherwise, and never more. Twice, so that a limit raised since it was
// read, or counted differently than the list (ASSUMPTION: the field names and meaning of /limit/
// are the simulator's, UPSTREAM-API 5.5), does not cut an honest list.
func (c *Client) maxPages(ep endpoint) int {
	l := c.limits.Load()
	if l == nil {
		return DefaultMaxPages
	}
	var most int
	switch ep.resource {
	case resExtension.name:
		most = l.ExtensionLimit
	case resGroup.name:
		most = l.ExtensionGroupLimit
	case resEvent.name:
		most = l.EventLimit // per client, so per extension too
	}
	if most <= 0 || most >= DefaultMaxPages*c.pageSize {
		return DefaultMaxPages
	}
	return min(DefaultMaxPages, (2*most+c.pageSize-1)/c.pageSize+1)
}

// listAnswers is how many answers' worth of bytes (--max-pbx-answer-bytes) one list may take, all
// its pages together: 64 MiB at the default, for lists of tens of thousands of objects.
const listAnswers = 8

// pageBody is one page of a list as it is decoded: it fails with full once it holds more than max
// objects, so that a page of a million tiny objects stops at the bound as it is decoded, and with
// long once the page passes the bytes the list has left.
type pageBody[T any] struct {
	items []T
	max   int
	full  *TooLargeError
	// maxBytes is what the page may take of the list's bytes; used what it took.
	maxBytes, used int64
	long           *TooLargeError
}

// decodeFrom decodes the page's array one object at a time. A null page is empty; anything else
// that is not an array fails as json.Unmarshal would.
func (p *pageBody[T]) decodeFrom(d *json.Decoder) error {
	tok, err := d.Token()
	if err != nil || tok == nil {
		return err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return &json.UnmarshalTypeError{Value: jsonKind(tok), Type: reflect.TypeFor[[]T](), Offset: d.InputOffset()}
	}
	for d.More() {
		if len(p.items) == p.max {
			return p.full
		}
		var v T
		if err := d.Decode(&v); err != nil {
			return err
		}
		if p.used = d.InputOffset(); p.used > p.maxBytes {
			return p.long
		}
		p.items = append(p.items, v)
	}
	_, err = d.Token() // the closing ]
	p.used = d.InputOffset()
	return err
}

// jsonKind names the kind of a JSON token as json.UnmarshalTypeError does.
func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case bool:
		return "bool"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	}
	return "object"
}

// pageRetries is how many times a page lost to a transient failure is asked again, pageRetryPause
// apart (and twice that the second time).
const (
	pageRetries    = 2
	pageRetryPause = 200 * time.Millisecond
)

// listPage fetches one page of at most most objects (a page with more fails with full) and
// maxBytes bytes (a longer one fails with long), and returns the bytes it took. A page is
// a read, so one lost to a 5xx or a cut connection is asked again, twice, rather than throwing
// away the pages before it: a list of a few thousand objects is several pages, and under a PBX that
// fails one request in ten most such lists would fail whole (and every resource waiting for them
// with it). The only retry the client makes besides the one after a 401; a write is never
// repeated.
func listPage[T any](ctx context.Context, c *Client, ep endpoint, q url.Values, most int, full *TooLargeError,
	maxBytes int64, long *TooLargeError) ([]T, int64, error) {
	for try := 0; ; try++ {
		p := pageBody[T]{max: most, full: full, maxBytes: maxBytes, long: long}
		err := c.do(ctx, http.MethodGet, ep, q, nil, &p)
		if err == nil || try == pageRetries || !transient(ctx, err) {
			return p.items, p.used, err
		}
		if serr := sleep(ctx, time.Duration(try+1)*pageRetryPause); serr != nil {
			return nil, 0, err
		}
	}
}

// transient tells whether a failed read may succeed when asked again at once: a 5xx, or no answer
// (a cut connection, a timeout of the request itself), while the caller still waits. Refusals (4xx,
// 429), requests the client did not send (DeferredError) and answers past a bound (TooLargeError)
// are not.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.As(err, new(*DeferredError)) || errors.As(err, new(*TooLargeError)) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode >= http.StatusInternalServerError
	}
	return true
}

// collect gathers a sequence into a slice, stopping at the first error.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// setOpt adds a filter from an Opt: its value, or "null" to match objects where the field is
// null; nothing when unset. ASSUMPTION: "null" as a filter value is the simulator's; no source
// shows how the PBX matches a null field.
func setOpt(q url.Values, key string, o Opt[int64]) {
	if v, ok := o.Get(); ok {
		q.Set(key, strconv.FormatInt(v, 10))
	} else if o.IsNull() {
		q.Set(key, "null")
	}
}

// setString adds a filter unless it is empty.
func setString(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}
