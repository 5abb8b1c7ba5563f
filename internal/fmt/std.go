//go:build !nossl

package fmt

import (
	"fmt"
	"io"
)

// With TLS, crypto/tls and crypto/x509 link the standard library's fmt
// anyway: these are its functions.

// Errorf is fmt.Errorf.
func Errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// Sprintf is fmt.Sprintf.
func Sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// Sprint is fmt.Sprint.
func Sprint(a ...any) string { return fmt.Sprint(a...) }

// Fprintf is fmt.Fprintf.
func Fprintf(w io.Writer, format string, a ...any) (int, error) {
	return fmt.Fprintf(w, format, a...)
}

// Fprint is fmt.Fprint.
func Fprint(w io.Writer, a ...any) (int, error) { return fmt.Fprint(w, a...) }

// Fprintln is fmt.Fprintln.
func Fprintln(w io.Writer, a ...any) (int, error) { return fmt.Fprintln(w, a...) }

// Printf is fmt.Printf.
func Printf(format string, a ...any) (int, error) { return fmt.Printf(format, a...) }

// Println is fmt.Println.
func Println(a ...any) (int, error) { return fmt.Println(a...) }
