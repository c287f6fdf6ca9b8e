package app

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The web layer maps them to HTTP statuses;
// the store maps driver errors to them at its boundary.
const (
	ENotFound          = "not_found"
	EConflict          = "conflict"
	EInvalid           = "invalid"
	EInsufficientPoint = "insufficient_points"
	EForbidden         = "forbidden"
	EInternal          = "internal"
)

// Error is a domain error with a code callers can branch on and a message
// that is safe to show to a user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of err: the message of an *Error,
// or a generic text for anything else, which may hold internals.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrDuplicate reports that a ledger entry with the same idempotency key
// already exists: the event was applied before and is skipped.
var ErrDuplicate = &Error{Code: EConflict, Message: "already applied"}
