package managed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// The engine classifies any error through these small interfaces, so it does not depend on the PBX
// client; the client's error type implements them.
type (
	// httpStatuser is an error that carries the HTTP status of a PBX answer.
	httpStatuser interface{ HTTPStatus() int }
	// pbxMessager is an error that carries the PBX's own message text.
	pbxMessager interface{ PBXMessage() string }
	// retryAfterer is an error that knows how long to wait before the request may be sent again.
	retryAfterer interface{ RetryAfter() time.Duration }
	// deferrer is a request that was not sent because its account is paced or busy: it may go
	// after Deferred.
	deferrer interface{ Deferred() time.Duration }
	// oversizer is an answer or a list the client stopped reading at one of its bounds (a gzip
	// bomb, a PBX that pages on and on); Oversize says which bound.
	oversizer interface{ Oversize() string }
)

// waitError asks for another pass soon without touching the conditions: the resource's state has
// not changed, something it needs is only getting ready (an account's connection after a restart).
type waitError struct {
	after time.Duration
	msg   string
}

func (e *waitError) Error() string { return e.msg }

// Wait asks the engine to try again after a short delay, quietly: no condition or event changes,
// so that a manager restart does not flap the status of every resource.
func Wait(after time.Duration, format string, args ...any) error {
	return &waitError{after: after, msg: fmt.Sprintf(format, args...)}
}

// turnError ends a pass whose write is not due yet in its account's pace (Adapter.Turn).
type turnError struct{ after time.Duration }

func (e *turnError) Error() string {
	return fmt.Sprintf("waiting %s for a turn in the account's PBX request pace", e.after.Round(time.Millisecond))
}

// Deferred returns how long until the turn.
func (e *turnError) Deferred() time.Duration { return e.after }

// engineError is an error class that only the adapters can know: the PBX client cannot tell that a
// referenced group is not Ready, or that a matching object belongs to somebody else.
type engineError struct {
	reason string // a v1alpha1 reason
	msg    string
}

func (e *engineError) Error() string { return e.msg }

// DependencyNotReady says that a referenced object (an account, a group) is missing or not Ready.
// The engine waits and retries when the dependency changes.
func DependencyNotReady(format string, args ...any) error {
	return &engineError{reason: v1alpha1.ReasonDependencyNotReady, msg: fmt.Sprintf(format, args...)}
}

// InvalidSpec says that the spec cannot work as written (a reference to an object of another
// account, a PBX object of another type). The engine retries only when the spec changes.
func InvalidSpec(format string, args ...any) error {
	return &engineError{reason: v1alpha1.ReasonInvalidSpec, msg: fmt.Sprintf(format, args...)}
}

// Conflict says that the natural key matches several PBX objects, so the engine must not guess.
func Conflict(format string, args ...any) error {
	return &engineError{reason: v1alpha1.ReasonConflict, msg: fmt.Sprintf(format, args...)}
}

// NotFound says that the PBX object is not in the account and cannot be made through the API (a
// phone number the provider allocates). An adapter's Observe returns it instead of Exists=false, so
// the engine never tries a create; it looks again every minute.
func NotFound(format string, args ...any) error {
	return &engineError{reason: v1alpha1.ReasonNotFound, msg: fmt.Sprintf(format, args...)}
}

// Class is how an error is handled: the condition reason and message, and what happens next.
type Class struct {
	// Reason is the v1alpha1 reason of the Synced (or, for accounts, Ready) condition.
	Reason string
	// Message is the human part for the condition: it ends with the PBX's message when there is one.
	Message string
	// Terminal errors wait for a change of the spec or annotations.
	Terminal bool
	// RequeueAfter, when set, schedules the next pass instead of the workqueue's backoff.
	RequeueAfter time.Duration
	// Silent errors produce no event.
	Silent bool
	// Quiet errors leave the conditions as they are (and produce no event).
	Quiet bool
}

// Result is what controller-runtime does after a pass that failed with err of this class: wait
// for a change of the spec (a terminal error, which is not retried), come back after
// RequeueAfter, or retry with the workqueue's exponential backoff. The engine and the account
// controllers both end their failed passes with it.
func (c Class) Result(err error) (ctrl.Result, error) {
	switch {
	case c.Terminal:
		return ctrl.Result{}, reconcile.TerminalError(err)
	case c.RequeueAfter > 0:
		return ctrl.Result{RequeueAfter: c.RequeueAfter}, nil
	default:
		return ctrl.Result{}, err
	}
}

// Requeue delays of the error classes (docs/conditions.md).
const (
	requeueUnauthorized = 5 * time.Minute
	requeueDependency   = 15 * time.Second
	requeueConflict     = 30 * time.Second
	requeueNotFound     = time.Minute
	requeueKubeConflict = time.Second
	minRateLimitWait    = time.Second
	maxRateLimitWait    = time.Hour
	// minDeferred is the shortest requeue of a deferred request; longDeferred the wait from which
	// a deferral shows in the conditions (shorter ones are routine pacing and stay quiet).
	minDeferred  = 100 * time.Millisecond
	longDeferred = 30 * time.Second
)

// Classify sorts an error into its class (the reasons of docs/conditions.md). Errors with neither
// Terminal nor RequeueAfter set are retried with the workqueue's exponential backoff. The message
// is cut at MaxMessage: it may quote the PBX, which may be a tenant's hostile server.
func Classify(err error) Class {
	c := classify(err)
	c.Message = Truncate(c.Message, MaxMessage)
	return c
}

func classify(err error) Class {
	var we *waitError
	if errors.As(err, &we) {
		return Class{Reason: v1alpha1.ReasonReconcileError, Message: we.msg, RequeueAfter: we.after, Silent: true, Quiet: true}
	}
	var de deferrer
	if errors.As(err, &de) {
		wait := min(max(de.Deferred(), minDeferred), maxRateLimitWait)
		if wait < longDeferred {
			return Class{Reason: v1alpha1.ReasonReconcileError, Message: err.Error(), RequeueAfter: wait, Silent: true, Quiet: true}
		}
		return Class{Reason: v1alpha1.ReasonRateLimited, Message: "Waiting for a turn in the account's PBX request pace (docs/pacing.md)", RequeueAfter: wait, Silent: true}
	}
	var ee *engineError
	if errors.As(err, &ee) {
		c := Class{Reason: ee.reason, Message: ee.msg}
		switch ee.reason {
		case v1alpha1.ReasonDependencyNotReady:
			c.RequeueAfter = requeueDependency
		case v1alpha1.ReasonConflict:
			c.RequeueAfter = requeueConflict
		case v1alpha1.ReasonNotFound:
			c.RequeueAfter = requeueNotFound
		default:
			c.Terminal = true
		}
		return c
	}
	if apierrors.IsConflict(err) {
		return Class{Reason: v1alpha1.ReasonReconcileError, Message: err.Error(), RequeueAfter: requeueKubeConflict, Silent: true, Quiet: true}
	}
	if errors.Is(err, context.Canceled) {
		// The manager is stopping: nothing to report.
		return Class{Reason: v1alpha1.ReasonReconcileError, Message: err.Error(), RequeueAfter: requeueKubeConflict, Silent: true, Quiet: true}
	}
	var o oversizer
	if errors.As(err, &o) {
		return Class{Reason: v1alpha1.ReasonAPIUnavailable, Message: capitalized(o.Oversize())}
	}
	msg := err.Error()
	var m pbxMessager
	if errors.As(err, &m) && m.PBXMessage() != "" {
		msg = m.PBXMessage()
	}
	var hs httpStatuser
	if !errors.As(err, &hs) {
		if cause, ok := notJSON(err); ok {
			return Class{Reason: v1alpha1.ReasonAPIUnavailable, Message: "The PBX answered something other than the API's JSON (check the account's url): " + cause}
		}
		if isTransport(err) {
			return Class{Reason: v1alpha1.ReasonAPIUnavailable, Message: "The PBX cannot be reached: " + transportCause(err)}
		}
		return Class{Reason: v1alpha1.ReasonReconcileError, Message: msg}
	}
	switch status := hs.HTTPStatus(); {
	case status >= 300 && status < 400:
		return Class{Reason: v1alpha1.ReasonAPIUnavailable, Message: fmt.Sprintf(
			"The PBX answered with a redirect (%d) instead of the API; check the account's url", status)}
	case status == http.StatusTooManyRequests:
		wait := maxRateLimitWait
		var ra retryAfterer
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			wait = min(max(ra.RetryAfter(), minRateLimitWait), maxRateLimitWait)
		}
		return Class{Reason: v1alpha1.ReasonRateLimited, Message: "Waiting for the PBX request budget to reset: " + msg, RequeueAfter: wait, Silent: true}
	case status == http.StatusUnauthorized:
		return Class{Reason: v1alpha1.ReasonUnauthorized, Message: "The PBX refused the account's credentials: " + msg, RequeueAfter: requeueUnauthorized}
	case status == http.StatusForbidden:
		return Class{Reason: v1alpha1.ReasonForbidden, Message: "The PBX refused the request for this account's user or app: " + msg, RequeueAfter: requeueUnauthorized}
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return Class{Reason: v1alpha1.ReasonInvalidSpec, Message: "The PBX rejected the spec: " + msg, Terminal: true}
	case status >= 500:
		return Class{Reason: v1alpha1.ReasonAPIUnavailable, Message: "The PBX is unavailable: " + msg}
	default:
		return Class{Reason: v1alpha1.ReasonReconcileError, Message: msg}
	}
}

// capitalized returns s with its first letter in upper case, as condition messages start.
func capitalized(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// httpStatus returns the HTTP status an error carries, or 0.
func httpStatus(err error) int {
	var hs httpStatuser
	if errors.As(err, &hs) {
		return hs.HTTPStatus()
	}
	return 0
}

// notJSON recognises an answer that is not the API's JSON (an HTML page, a proxy's error), and
// returns the decoder's complaint, which is the same on every retry.
func notJSON(err error) (string, bool) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return se.Error(), true
	case errors.As(err, &te):
		return te.Error(), true
	}
	return "", false
}

// transportCause describes a failure to get an answer in words that stay the same from one retry
// to the next (no local port numbers), so that retries neither flap the condition nor repeat
// events.
func transportCause(err error) string {
	var dns *net.DNSError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "the request timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "the connection was reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed before the answer"
	case errors.As(err, &dns):
		return "the host " + dns.Name + " cannot be resolved"
	case errors.As(err, &ua):
		return "TLS: the certificate is signed by an unknown authority (set the account's CA bundle if the PBX uses a private CA)"
	case errors.As(err, &hn):
		return "TLS: " + hn.Error()
	case errors.As(err, &ci):
		return "TLS: " + ci.Error()
	case errors.As(err, &cv):
		return "TLS: " + cv.Err.Error()
	}
	return err.Error()
}

// isTransport tells connection errors and timeouts, which carry no HTTP status, from bugs.
func isTransport(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		transportCause(err) != err.Error()
}
