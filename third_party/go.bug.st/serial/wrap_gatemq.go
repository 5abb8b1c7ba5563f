//
// Added for gatemq (see README.gatemq.md): not part of upstream.
//

//go:build linux || darwin || freebsd || openbsd

package serial

// wrapError is the error of fmt.Errorf(msg+": %w", err), without package
// fmt.
func wrapError(msg string, err error) error { return &wrappedError{msg + ": " + err.Error(), err} }

type wrappedError struct {
	msg string
	err error
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.err }
