package auth

import (
	"errors"

	"gatemq/internal/fmt"
)

// ParseError reports a line of a password or ACL file that cannot be used.
// Load and LoadACL return it (wrapped in nothing) so callers can log the
// file and line, and errors.As finds it.
type ParseError struct {
	// Path is the file's name as given to the loader ("" when parsing a
	// reader without a name).
	Path string
	// Line is the 1-based line number.
	Line int
	// Msg says what is wrong, without the position.
	Msg string
}

// Error returns "auth: PATH:LINE: MSG".
func (e *ParseError) Error() string {
	name := e.Path
	if name == "" {
		name = "(input)"
	}
	return fmt.Sprintf("auth: %s:%d: %s", name, e.Line, e.Msg)
}

// ErrUsername is returned (wrapped, with the reason) by ValidUsername and the
// entry helpers for a username that cannot be written to a password file.
var ErrUsername = errors.New("auth: invalid username")

// ErrPassword is returned (wrapped, with the reason) by HashPBKDF2 and
// HashSHA512 for a password that cannot be stored (empty, or too long).
var ErrPassword = errors.New("auth: invalid password")
