package topic

import "strings"

// Match reports whether topic name t matches the plain topic filter f (not a
// "$share/" filter; see ParseShared) under the MQTT rules: '+' matches exactly
// one level, which may be empty; '#' matches the parent level and any number
// of child levels ("a/#" matches "a", "a/" and "a/b/c"); and a topic name
// starting with '$' is not matched by a filter starting with '+' or '#'
// [MQTT-4.7.2-1]. Match is the reference implementation that Tree and Retained
// agree with; it is simple rather than fast, but does not allocate. For
// invalid filters the result is unspecified but Match does not panic.
func Match(f, t string) bool {
	if len(t) > 0 && t[0] == '$' && len(f) > 0 && (f[0] == '+' || f[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		fl, frest, fmore := strings.Cut(f, "/")
		if fl == "#" && !fmore {
			return true // '#' matches this level, any below, and the parent [MQTT-4.7.1-2]
		}
		tl, trest, tmore := strings.Cut(t, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// One side ran out of levels. They match if both did, or if
			// the filter has exactly "#" left ("a/#" matches "a").
			return fmore == tmore || (fmore && frest == "#")
		}
		f, t = frest, trest
	}
}
