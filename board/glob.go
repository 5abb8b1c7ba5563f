package board

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// glob returns the names of the files that match pattern, as filepath.Glob
// does: in the order of the pattern's directories, each directory's matches
// sorted by name, nil when none match, and only filepath.ErrBadPattern as
// an error (I/O errors are ignored). It is filepath.Glob without
// slices.Sort[[]string], whose own copy of pdqsort (about 12 KB of code and
// metadata) nothing else in the binary needs; the sort package's
// interface-based sort is in the binary anyway.
func glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	if !hasGlobMeta(pattern) {
		if _, err := os.Lstat(pattern); err != nil {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	dir, file := filepath.Split(pattern)
	switch dir {
	case "":
		dir = "."
	case string(filepath.Separator):
	default:
		dir = dir[:len(dir)-1] // without the trailing separator
	}
	if !hasGlobMeta(dir) {
		return globDir(dir, file, nil), nil
	}
	if dir == pattern { // a pattern that is only separators and meta
		return nil, filepath.ErrBadPattern
	}
	dirs, err := glob(dir)
	if err != nil {
		return nil, err
	}
	var matches []string
	for _, d := range dirs {
		matches = globDir(d, file, matches)
	}
	return matches, nil
}

// globDir appends to matches the names in dir that match the pattern file
// (which has no separator), in sorted order.
func globDir(dir, file string, matches []string) []string {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return matches
	}
	d, err := os.Open(dir)
	if err != nil {
		return matches
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	sort.Sort(sort.StringSlice(names))
	for _, n := range names {
		if ok, _ := filepath.Match(file, n); ok {
			matches = append(matches, filepath.Join(dir, n))
		}
	}
	return matches
}

// hasGlobMeta reports whether path has a character filepath.Match treats
// specially (on Unix).
func hasGlobMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }
