package managed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// The engine classifies any error through these small interfaces, so it does not depend on the PBX
// client; the client's error type implements them.
type (
	// httpStatuser is an error that carries the HTTP status of a PBX answer.
	httpStatuser interface{ HTTPStatus() int }
	// pbxMessager is an error that carries the PBX's own message text.
	pbxMessager interface{ PBXMessage() string }
	// retryTimer is an error that knows when the request may be sent again.
	retryTimer interface{ RetryTime() time.Time }
)

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

// class is how the engine handles an error: the Synced reason, and what happens next.
type class struct {
	reason string
	// message is the human part for the condition: the PBX's message when there is one.
	message string
	// terminal errors wait for a change of the spec or annotations.
	terminal bool
	// requeueAfter, when set, schedules the next pass instead of the workqueue's backoff.
	requeueAfter time.Duration
	// backoff errors are returned to controller-runtime, which retries with exponential backoff.
	backoff bool
	// silent errors produce no event.
	silent bool
}

// Requeue delays of the error classes (STYLE.md section 5).
const (
	requeueUnauthorized = 5 * time.Minute
	requeueDependency   = 15 * time.Second
	requeueConflict     = 30 * time.Second
	requeueKubeConflict = time.Second
	minRateLimitWait    = time.Second
	maxRateLimitWait    = time.Hour
)

// classify sorts an error into its class (the table of STYLE.md section 5).
func classify(err error, now time.Time) class {
	var ee *engineError
	if errors.As(err, &ee) {
		c := class{reason: ee.reason, message: ee.msg}
		switch ee.reason {
		case v1alpha1.ReasonDependencyNotReady:
			c.requeueAfter = requeueDependency
		case v1alpha1.ReasonConflict:
			c.requeueAfter = requeueConflict
		default:
			c.terminal = true
		}
		return c
	}
	if apierrors.IsConflict(err) {
		return class{reason: v1alpha1.ReasonReconcileError, message: err.Error(), requeueAfter: requeueKubeConflict, silent: true}
	}
	msg := err.Error()
	var m pbxMessager
	if errors.As(err, &m) && m.PBXMessage() != "" {
		msg = m.PBXMessage()
	}
	var hs httpStatuser
	if !errors.As(err, &hs) {
		if isTransport(err) {
			return class{reason: v1alpha1.ReasonAPIUnavailable, message: "The PBX cannot be reached: " + msg, backoff: true}
		}
		return class{reason: v1alpha1.ReasonReconcileError, message: msg, backoff: true}
	}
	switch status := hs.HTTPStatus(); {
	case status == http.StatusTooManyRequests:
		wait := maxRateLimitWait
		var rt retryTimer
		if errors.As(err, &rt) && !rt.RetryTime().IsZero() {
			wait = min(max(rt.RetryTime().Sub(now), minRateLimitWait), maxRateLimitWait)
		}
		return class{reason: v1alpha1.ReasonRateLimited, message: "The PBX request budget is spent: " + msg, requeueAfter: wait, silent: true}
	case status == http.StatusUnauthorized:
		return class{reason: v1alpha1.ReasonUnauthorized, message: "The PBX refused the account's credentials: " + msg, requeueAfter: requeueUnauthorized}
	case status == http.StatusForbidden:
		return class{reason: v1alpha1.ReasonForbidden, message: "The PBX refused the request for this account's user or app: " + msg, requeueAfter: requeueUnauthorized}
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return class{reason: v1alpha1.ReasonInvalidSpec, message: "The PBX rejected the spec: " + msg, terminal: true}
	case status >= 500:
		return class{reason: v1alpha1.ReasonAPIUnavailable, message: "The PBX is unavailable: " + msg, backoff: true}
	default:
		return class{reason: v1alpha1.ReasonReconcileError, message: msg, backoff: true}
	}
}

// isTransport tells connection errors and timeouts, which carry no HTTP status, from bugs.
func isTransport(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
