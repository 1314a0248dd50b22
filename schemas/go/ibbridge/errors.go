package ibbridge

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error is every error the bus or this package reports about a request: the bus' error reply
// ({"error": {"code", "message", "ib_code", "retry_after_ms"}} with the Nats-Service-Error-Code
// header), or a local condition given the same shape (a timeout, no responders, the breaker).
// Switch on it with errors.Is and the Err… values, or read its fields with errors.As.
type Error struct {
	Code       string        // the slug: bad_request, ib_unavailable, pacing, ... (local: timeout, no_responders, breaker_open)
	Message    string        // text a person can act on
	IBCode     int           // IB's error code when IB caused it
	Status     int           // Nats-Service-Error-Code (an HTTP-like number; local errors get the matching one)
	RetryAfter time.Duration // from retry_after_ms (pacing): when the same request should be served
	Subject    string        // the request subject
	Local      bool          // raised by this package, not sent by ib-bridge
	cause      error         // the nats.go or context error behind a local error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ibbridge: ")
	if e.Subject != "" {
		b.WriteString(e.Subject)
		b.WriteString(": ")
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.IBCode != 0 {
		fmt.Fprintf(&b, " (IB %d)", e.IBCode)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the nats.go / context error behind a local error (nil for bus errors).
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether the error belongs to the kind target names (one of the Err… values).
func (e *Error) Is(target error) bool {
	k, ok := target.(*kind)
	if !ok {
		return false
	}
	for _, x := range kindsOf(e) {
		if x == k {
			return true
		}
	}
	return false
}

// kind is the type of the Err… values: they match an *Error by errors.Is, never by identity.
type kind struct{ name string }

func (k *kind) Error() string { return "ibbridge: " + k.name }

// The kinds of errors.Is. An error can be of several kinds: pacing is ErrPacing and
// ErrRateLimited, ib_unavailable is ErrIBUnavailable and ErrUnavailable.
var (
	ErrBadRequest      error = &kind{"bad_request"}       // 400 bad_request
	ErrUnauthorized    error = &kind{"unauthorized"}      // 401 unauthorized
	ErrForbidden       error = &kind{"forbidden"}         // 403 forbidden, read_only
	ErrReadOnly        error = &kind{"read_only"}         // 403 read_only: ib-bridge refuses every order
	ErrNotFound        error = &kind{"not_found"}         // 404 not_found, unknown_symbol; and ErrNotServed
	ErrUnknownSymbol   error = &kind{"unknown_symbol"}    // 404 unknown_symbol (IB 200)
	ErrConflict        error = &kind{"conflict"}          // 409 conflict
	ErrPayloadTooLarge error = &kind{"payload_too_large"} // 413 payload_too_large
	ErrUnprocessable   error = &kind{"unprocessable"}     // 422 unprocessable, ambiguous, order_rejected, risk_limit
	ErrAmbiguous       error = &kind{"ambiguous"}         // 422 ambiguous (the message names the matches)
	ErrOrderRejected   error = &kind{"order_rejected"}    // 422 order_rejected: IB refused the order
	ErrRiskLimit       error = &kind{"risk_limit"}        // 422 risk_limit: the message names the limit
	ErrRateLimited     error = &kind{"rate_limited"}      // 429 rate_limited, pacing, line_limit
	ErrPacing          error = &kind{"pacing"}            // 429 pacing: Error.RetryAfter says when
	ErrLineLimit       error = &kind{"line_limit"}        // 429 line_limit: the market-data line budget
	ErrInternal        error = &kind{"internal"}          // 500 internal
	ErrNotServed       error = &kind{"not_served"}        // 501 not_implemented, or no responders on a subject the bus does not serve yet
	ErrIBError         error = &kind{"ib_error"}          // 502 ib_error: IB's text in the message
	ErrUnavailable     error = &kind{"unavailable"}       // 503 unavailable, ib_unavailable; no responders; breaker open
	ErrIBUnavailable   error = &kind{"ib_unavailable"}    // 503 ib_unavailable: the IB link is down
	ErrBreakerOpen     error = &kind{"breaker_open"}      // the circuit breaker failed the call fast (also ErrUnavailable)
	ErrTimeout         error = &kind{"timeout"}           // 504 timeout, or no reply before the deadline
)

// slugKinds maps every slug ib-bridge sends (adapter/bus/bus_error.c) to its kinds.
var slugKinds = map[string][]*kind{
	"bad_request":       {k(ErrBadRequest)},
	"unauthorized":      {k(ErrUnauthorized)},
	"forbidden":         {k(ErrForbidden)},
	"read_only":         {k(ErrReadOnly), k(ErrForbidden)},
	"not_found":         {k(ErrNotFound)},
	"unknown_symbol":    {k(ErrUnknownSymbol), k(ErrNotFound)},
	"conflict":          {k(ErrConflict)},
	"payload_too_large": {k(ErrPayloadTooLarge)},
	"unprocessable":     {k(ErrUnprocessable)},
	"ambiguous":         {k(ErrAmbiguous), k(ErrUnprocessable)},
	"order_rejected":    {k(ErrOrderRejected), k(ErrUnprocessable)},
	"risk_limit":        {k(ErrRiskLimit), k(ErrUnprocessable)},
	"rate_limited":      {k(ErrRateLimited)},
	"pacing":            {k(ErrPacing), k(ErrRateLimited)},
	"line_limit":        {k(ErrLineLimit), k(ErrRateLimited)},
	"internal":          {k(ErrInternal)},
	"not_implemented":   {k(ErrNotServed), k(ErrNotFound)},
	"ib_error":          {k(ErrIBError)},
	"unavailable":       {k(ErrUnavailable)},
	"ib_unavailable":    {k(ErrIBUnavailable), k(ErrUnavailable)},
	"timeout":           {k(ErrTimeout)},
	// local
	"no_responders": {k(ErrUnavailable)},
	"not_served":    {k(ErrNotServed), k(ErrNotFound)},
	"breaker_open":  {k(ErrBreakerOpen), k(ErrUnavailable)},
}

// statusKinds is the fallback for a slug this package does not know (a newer ib-bridge).
var statusKinds = map[int][]*kind{
	400: {k(ErrBadRequest)}, 401: {k(ErrUnauthorized)}, 403: {k(ErrForbidden)}, 404: {k(ErrNotFound)},
	409: {k(ErrConflict)}, 413: {k(ErrPayloadTooLarge)}, 422: {k(ErrUnprocessable)},
	429: {k(ErrRateLimited)}, 500: {k(ErrInternal)}, 501: {k(ErrNotServed), k(ErrNotFound)},
	502: {k(ErrIBError)}, 503: {k(ErrUnavailable)}, 504: {k(ErrTimeout)},
}

func k(e error) *kind { return e.(*kind) }

func kindsOf(e *Error) []*kind {
	if ks, ok := slugKinds[e.Code]; ok {
		return ks
	}
	return statusKinds[e.Status]
}

// Slugs lists every slug this package maps (the bus' slugs and its own local ones).
func Slugs() []string {
	out := make([]string, 0, len(slugKinds))
	for s := range slugKinds {
		out = append(out, s)
	}
	return out
}

// IsRetryable reports whether the same request may succeed later unchanged: unavailable,
// ib_unavailable, no responders, timeout, rate_limited / pacing / line_limit, breaker open.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrRateLimited)
}

func localError(code, subject, msg string, status int, cause error) *Error {
	return &Error{Code: code, Message: msg, Status: status, Subject: subject, Local: true, cause: cause}
}
