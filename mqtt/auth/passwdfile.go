package auth

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"gatemq/internal/fmt"
)

// ValidUsername reports (as an error wrapping ErrUsername) why user cannot
// be written to a password file, or nil if it can: it must be valid UTF-8
// of 1 to 65535 bytes, without ':' or control characters, not start with
// '#' (the line would read as a comment) and not start or end with a blank
// (blanks are trimmed when the file is read).
func ValidUsername(user string) error {
	why := ""
	switch {
	case user == "":
		why = "empty"
	case len(user) > maxField:
		why = fmt.Sprintf("longer than %d bytes", maxField)
	case !utf8.ValidString(user):
		why = "not valid UTF-8"
	case strings.Contains(user, ":"):
		why = "contains ':'"
	case strings.IndexFunc(user, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		why = "contains a control character"
	case user[0] == '#':
		why = "starts with '#'"
	case trimBlanks(user) != user:
		why = "starts or ends with a blank"
	}
	if why != "" {
		return fmt.Errorf("%w %q: %s", ErrUsername, user, why)
	}
	return nil
}

// entryUser returns the username of a password-file line, and false for
// blank and comment lines and lines without ':'.
func entryUser(line []byte) (string, bool) {
	s := strings.TrimRight(string(line), "\r")
	if strings.TrimSpace(s) == "" || s[0] == '#' {
		return "", false
	}
	user, _, ok := strings.Cut(s, ":")
	if !ok {
		return "", false
	}
	return trimBlanks(user), true
}

// SetEntry returns a copy of content (a password file) in which user's line
// reads "USER:HASH": the first line of user is replaced (later duplicates
// are dropped), or the line is appended if user has none. Other lines,
// comments included, are kept as they are. replaced reports whether user
// had a line. The result ends with a newline.
func SetEntry(content []byte, user, hash string) (out []byte, replaced bool, err error) {
	if err := ValidUsername(user); err != nil {
		return nil, false, err
	}
	if _, err := parseHash(hash); err != nil {
		return nil, false, fmt.Errorf("auth: hash for %q: %v", user, err)
	}
	newLine := user + ":" + hash
	for _, line := range splitLines(content) {
		if u, ok := entryUser(line); ok && u == user {
			if !replaced {
				out = append(out, newLine...)
				out = append(out, '\n')
				replaced = true
			}
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	if !replaced {
		out = append(out, newLine...)
		out = append(out, '\n')
	}
	return out, replaced, nil
}

// DeleteEntry returns a copy of content without user's lines; found reports
// whether there was one. Other lines are kept as they are.
func DeleteEntry(content []byte, user string) (out []byte, found bool) {
	out = []byte{}
	for _, line := range splitLines(content) {
		if u, ok := entryUser(line); ok && u == user {
			found = true
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out, found
}

// splitLines splits content at '\n', without the final empty piece.
func splitLines(content []byte) [][]byte {
	if len(content) == 0 {
		return nil
	}
	lines := bytes.Split(content, []byte{'\n'})
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// WriteFile replaces the file at path with content atomically: it writes a
// temporary file in the same folder with mode 0600, syncs it, renames it
// over path and syncs the folder, so a crash leaves either the old file or
// the new one. If path is a symbolic link, the file it points to is
// replaced (the link stays). If a file was there, its owner and group are
// kept when the process may set them (a root-run update of a file the
// broker's user reads must stay readable to that user); a new file takes
// the group of its folder, as a packaged /etc/gatemq (root:gatemq, 0750)
// has. When that group is not the process's own, the file is 0640 instead
// of 0600, so the broker's group may read what root wrote for it.
func WriteFile(path string, content []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("auth: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	owner, err := os.Stat(path)
	if err != nil {
		owner, err = os.Stat(dir) // a new file: only the group is taken
	}
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := tmp.Chmod(setOwner(tmp, owner)); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if _, err := tmp.Write(content); err != nil {
		return fmt.Errorf("auth: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("auth: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // some file systems cannot sync a folder; the rename is done either way
		_ = d.Close()
	}
	return nil
}
