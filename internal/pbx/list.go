package pbx

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// list pages through a collection: page 1, 2, ... with per_page set to the client's page size,
// until a page comes back shorter than that (UPSTREAM-API 4.13: lists are bare arrays with no
// total and no cursor). ASSUMPTION (UPSTREAM-API 2.6, seen only in SDKs): page is 1-based, every
// list takes page and per_page, and the PBX honours per_page up to the page size; a PBX that
// capped it lower would end the list early. Objects are yielded as they arrive; the first error is yielded once and
// ends the sequence. An object seen on an earlier page is not yielded again: objects can shift
// between pages while others change the collection.
func list[T any](ctx context.Context, c *Client, ep endpoint, filter url.Values, id func(*T) int64) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		seen := map[int64]struct{}{}
		for page := 1; ; page++ {
			q := url.Values{}
			for k, v := range filter {
				q[k] = v
			}
			q.Set("page", strconv.Itoa(page))
			q.Set("per_page", strconv.Itoa(c.pageSize))
			items, err := listPage[T](ctx, c, ep, q)
			if err != nil {
				yield(zero, err)
				return
			}
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

// pageRetries is how many times a page lost to a transient failure is asked again, pageRetryPause
// apart (and twice that the second time).
const (
	pageRetries    = 2
	pageRetryPause = 200 * time.Millisecond
)

// listPage fetches one page. A page is a read, so one lost to a 5xx or a cut connection is asked
// again, twice, rather than throwing away the pages before it: a list of a few thousand objects is
// several pages, and under a PBX that fails one request in ten most such lists would fail whole
// (and every resource waiting for them with it). The only retry the client makes besides the one
// after a 401; a write is never repeated.
func listPage[T any](ctx context.Context, c *Client, ep endpoint, q url.Values) ([]T, error) {
	for try := 0; ; try++ {
		var items []T
		err := c.do(ctx, http.MethodGet, ep, q, nil, &items)
		if err == nil || try == pageRetries || !transient(ctx, err) {
			return items, err
		}
		if serr := sleep(ctx, time.Duration(try+1)*pageRetryPause); serr != nil {
			return nil, err
		}
	}
}

// transient tells whether a failed read may succeed when asked again at once: a 5xx, or no answer
// (a cut connection, a timeout of the request itself), while the caller still waits. Refusals (4xx,
// 429) and requests the client did not send (DeferredError) are not.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.As(err, new(*DeferredError)) {
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
