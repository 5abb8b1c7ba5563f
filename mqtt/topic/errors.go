package topic

import "errors"

// Errors returned by ValidName and ValidFilter. Each message names the rule
// and its normative statement; callers compare with errors.Is.
var (
	// ErrEmpty is returned for a zero-length topic name or filter [MQTT-4.7.3-1].
	ErrEmpty = errors.New("topic: empty topic name or filter [MQTT-4.7.3-1]")
	// ErrTooLong is returned when a topic name or filter exceeds 65535 bytes [MQTT-4.7.3-3].
	ErrTooLong = errors.New("topic: longer than 65535 bytes [MQTT-4.7.3-3]")
	// ErrInvalidUTF8 is returned for ill-formed UTF-8, including encoded surrogates [MQTT-1.5.3-1].
	ErrInvalidUTF8 = errors.New("topic: ill-formed UTF-8 [MQTT-1.5.3-1]")
	// ErrNullChar is returned when the string contains U+0000 [MQTT-4.7.3-2].
	ErrNullChar = errors.New("topic: contains U+0000 [MQTT-4.7.3-2]")
	// ErrWildcardInName is returned by ValidName when the name contains '+' or '#' [MQTT-4.7.1-1].
	ErrWildcardInName = errors.New("topic: wildcard '+' or '#' in topic name [MQTT-4.7.1-1]")
	// ErrBadPlus is returned by ValidFilter when '+' does not occupy a whole level [MQTT-4.7.1-3].
	ErrBadPlus = errors.New("topic: '+' must occupy an entire level [MQTT-4.7.1-3]")
	// ErrBadHash is returned by ValidFilter when '#' is not the whole last level [MQTT-4.7.1-2].
	ErrBadHash = errors.New("topic: '#' must be the whole last level [MQTT-4.7.1-2]")
	// ErrBadShareName is returned by ValidFilter for "$share/" filters whose
	// share name is empty or contains '+', '#' (or is not followed by '/') [MQTT-4.8.2-1].
	ErrBadShareName = errors.New("topic: invalid shared subscription share name [MQTT-4.8.2-1]")
	// ErrBadShareFilter is returned by ValidFilter for "$share/{name}" with no
	// topic filter after the share name [MQTT-4.8.2-2].
	ErrBadShareFilter = errors.New("topic: shared subscription without topic filter [MQTT-4.8.2-2]")
)
