//go:build nossl

package fmt

import (
	"io"
	"os"
)

// Without TLS nothing else links the standard library's fmt: these are
// the own formatter's (format.go).

// Errorf is fmt.Errorf.
func Errorf(format string, a ...any) error { return errorf(format, a) }

// Sprintf is fmt.Sprintf.
func Sprintf(format string, a ...any) string {
	b, _ := appendf(nil, format, a, false)
	return string(b)
}

// Sprint is fmt.Sprint.
func Sprint(a ...any) string { return string(appendPrint(nil, a, false)) }

// Fprintf is fmt.Fprintf.
func Fprintf(w io.Writer, format string, a ...any) (int, error) {
	b, _ := appendf(nil, format, a, false)
	return w.Write(b)
}

// Fprint is fmt.Fprint.
func Fprint(w io.Writer, a ...any) (int, error) { return w.Write(appendPrint(nil, a, false)) }

// Fprintln is fmt.Fprintln.
func Fprintln(w io.Writer, a ...any) (int, error) { return w.Write(appendPrint(nil, a, true)) }

// Printf is fmt.Printf.
func Printf(format string, a ...any) (int, error) { return Fprintf(os.Stdout, format, a...) }

// Println is fmt.Println.
func Println(a ...any) (int, error) { return Fprintln(os.Stdout, a...) }
