package pbx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxErrorBody is how much of an error answer's body an APIError keeps for debugging.
const maxErrorBody = 1024

// maxMessage is how much of the PBX's message, code and request id an APIError keeps: they are
// copied into conditions and events, and a hostile PBX may send megabytes.
const maxMessage = 1024

// An APIError is an answer of the PBX other than success, or a request the client refused on
// the PBX's behalf because the request budget is spent (StatusCode 429, no network call). Use
// the predicates (IsNotFound, IsRateLimited, ...) rather than comparing fields; they see through
// wrapping.
type APIError struct {
	// Method and Path are the request's method and path (with ids, without the query).
	Method string
	Path   string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the PBX's machine-readable "status" (user_access_type_deny, rate_limit_exceeded,
	// client_not_found, ...) or, from the token endpoint, OAuth2's "error"; often empty.
	Code string
	// Message is the PBX's "message": why it refused the request. It is cut at 1 KiB (on a rune
	// boundary, marked), as are Code and RequestID.
	Message string
	// RequestID is the X-Request-Id header of the answer, when there is one (ASSUMPTION: the PBX
	// documents no request id; this is the common header name).
	RequestID string
	// RetryAt is when the request may be tried again, when known: the end of the hourly window
	// for a rate-limited request, or the answer's Retry-After.
	RetryAt time.Time
	// Body is the start of the answer's body, for debugging.
	Body string
}

// Error returns the request, the status, the PBX's code and its message.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	b.WriteString(": " + msg)
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// HTTPStatus returns the HTTP status, so that callers can classify errors through a small
// interface without importing this package.
func (e *APIError) HTTPStatus() int { return e.StatusCode }

// PBXMessage returns the PBX's own message, for condition messages that end with it.
func (e *APIError) PBXMessage() string { return e.Message }

// RetryAfter returns how long to wait before trying again, by the wall clock: 0 when unknown, and
// the shortest wait (a millisecond), not 0, once the time has passed: an error kept and read again
// later (a snapshot's last failed list) must not pass for one whose retry time is unknown, which
// callers take for the PBX's whole hour.
func (e *APIError) RetryAfter() time.Duration {
	if e.RetryAt.IsZero() {
		return 0
	}
	return max(time.Until(e.RetryAt), time.Millisecond)
}

// DeferredError is a request the client did not send because it would have waited too long for
// its turn in the account's pace or for a free connection: nothing reached the PBX. Its caller
// should come back After (a reconcile returns its worker and is requeued), so that one paced or
// slow account does not hold the workers that other accounts need.
type DeferredError struct {
	Method string
	Path   string
	// After is how long until the request may go.
	After time.Duration
	// Why names what the request would have waited for.
	Why string
}

// Error says what was not sent and why.
func (e *DeferredError) Error() string {
	return fmt.Sprintf("%s %s: not sent: waiting %s for %s", e.Method, e.Path, e.After.Round(time.Millisecond), e.Why)
}

// Deferred returns how long until the request may go, so that callers can classify errors through
// a small interface without importing this package.
func (e *DeferredError) Deferred() time.Duration { return e.After }

// A TooLargeError is an answer or a list the client stopped reading at one of its bounds: an answer
// longer than WithMaxAnswerBytes after decompression, or a list with more pages (or more objects
// than that many full pages hold) than the collection can have. Such a PBX is not usable as it
// answers, and asking again gets the same answer; the read stops at the bound, so it cost no more
// memory than that.
type TooLargeError struct {
	Method string
	Path   string
	// MaxBytes is the bound on one answer that the answer passed; 0 when a list passed MaxPages.
	MaxBytes int64
	// MaxPages is the bound on one list's pages that the list passed; 0 when an answer passed
	// MaxBytes.
	MaxPages int
	// MaxListBytes is the bound on the bytes of all of one list's pages that the list passed.
	MaxListBytes int64
}

// Error names the request and the bound it passed.
func (e *TooLargeError) Error() string { return e.Method + " " + e.Path + ": " + e.Oversize() }

// Oversize says which bound the answer passed, for condition messages: "the PBX answer is larger
// than 8 MiB (--max-pbx-answer-bytes)" or "the PBX list has more than 100 pages". Callers classify
// errors through this small interface without importing this package.
func (e *TooLargeError) Oversize() string {
	if e.MaxPages > 0 {
		return fmt.Sprintf("the PBX list has more than %d pages", e.MaxPages)
	}
	if e.MaxListBytes > 0 {
		return fmt.Sprintf("the PBX list is larger than %s (%d times --max-pbx-answer-bytes)", byteSize(e.MaxListBytes), listAnswers)
	}
	return fmt.Sprintf("the PBX answer is larger than %s (--max-pbx-answer-bytes)", byteSize(e.MaxBytes))
}

// byteSize writes n in the largest binary unit that divides it: 8 MiB, 1536 KiB, 100 bytes.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errorBody is the PBX's error answer: {"message": "...", "status": "..."}, or the token
// endpoint's {"error": "...", "message": "..."}. The fields are decoded loosely: an error answer
// must never fail to decode.
type errorBody struct {
	Message LooseString `json:"message"`
	Status  LooseString `json:"status"`
	Error   LooseString `json:"error"`
}

// newAPIError builds the APIError of an answer from its status, headers and (possibly partial)
// body. now is the client's clock, for Retry-After.
func newAPIError(method, path string, status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{
		Method:     method,
		Path:       path,
		StatusCode: status,
		RequestID:  truncate([]byte(h.Get("X-Request-Id")), maxMessage),
		RetryAt:    retryAfter(h, now),
		Body:       truncate(body, maxErrorBody),
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		// Cut once here, so that every copy (conditions, events, logs) is bounded.
		e.Message = truncate([]byte(eb.Message), maxMessage)
		e.Code = truncate([]byte(eb.Status), maxMessage)
		if e.Code == "" {
			e.Code = truncate([]byte(eb.Error), maxMessage)
		}
	}
	return e
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); zero when absent or invalid.
func retryAfter(h http.Header, now time.Time) time.Time {
	v := h.Get("Retry-After")
	if v == "" {
		return time.Time{}
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return now.Add(time.Duration(s) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// truncate returns b as valid UTF-8, cut to at most n bytes at a rune boundary, marking a cut.
func truncate(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

// statusOf returns the HTTP status of the APIError in err's chain, or 0.
func statusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404: the object does not exist, or a find by natural key
// matched nothing.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsBadRequest reports whether err is a 400: the PBX rejected the parameters (Message says why).
func IsBadRequest(err error) bool { return statusOf(err) == http.StatusBadRequest }

// IsUnauthorized reports whether err is a 401: the credentials were refused, or the token was
// refused again right after a renewal.
func IsUnauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// IsForbidden reports whether err is a 403: the user or the application may not do this (Code
// tells access_denied, user_blocked, user_access_type_deny and app_access_type_deny apart).
func IsForbidden(err error) bool { return statusOf(err) == http.StatusForbidden }

// IsRateLimited reports whether err is a 429, from the PBX or from the client's own budget;
// the APIError's RetryAt says when to try again.
func IsRateLimited(err error) bool { return statusOf(err) == http.StatusTooManyRequests }

// IsServerError reports whether err is a 5xx answer.
func IsServerError(err error) bool { return statusOf(err) >= http.StatusInternalServerError }

// notFound is the error of a find by natural key that matched nothing: a 404 made by the client,
// so that IsNotFound treats it like the PBX's own.
func notFound(ep endpoint, message string) error {
	return &APIError{Method: http.MethodGet, Path: ep.path, StatusCode: http.StatusNotFound, Message: message}
}
