// Package auth reads Mosquitto's password and ACL files, so that a router's
// existing files work with gatemq unchanged, and answers the two questions
// the broker asks: is this the user's password, and may this client read,
// write or subscribe to this topic. It imports nothing of gatemq and does no
// I/O after loading; loaded values are immutable, so a reload (SIGHUP)
// builds new ones and swaps them in, keeping the old ones if loading fails.
//
// Usage:
//
//	pw, err := auth.Load("/etc/mosquitto/passwd")
//	if err != nil {
//		return err // *auth.ParseError names the file and line
//	}
//	ok := pw.Check(username, password) // constant time; nil password never matches
//
//	acl, err := auth.LoadACL("/etc/mosquitto/acl")
//	...
//	rules := acl.For(username, clientID, !hasUsername) // once per connection
//	if !rules.Check(topic, auth.Write) { ... }          // no allocation
//
// # Password file
//
// One USER:HASH line per user, as written by mosquitto_passwd:
//
//	alice:$7$101$SALT$HASH   PBKDF2-HMAC-SHA512, ITERATIONS rounds (Mosquitto 2.x)
//	bob:$6$SALT$HASH         SHA-512 of password then salt (Mosquitto 1.x)
//
// SALT is 12 bytes and HASH 64 bytes, both in standard base64. Blank lines
// and lines starting with '#' are skipped; blanks around USER and HASH are
// trimmed. [HashPBKDF2] writes new entries with a random salt and 101
// iterations (mosquitto_passwd's default), and [SetEntry], [DeleteEntry]
// and [WriteFile] edit a file the way mosquitto_passwd does.
//
// Decisions where Mosquitto is loose:
//   - A line Mosquitto would drop with a log message (no ':', a bad hash, a
//     salt that is not 12 bytes) is an error here, with its line number, and
//     so is a user listed twice (Mosquitto's lookup would pick one of them
//     unpredictably). On a router, a device locked out by a silently dropped
//     line is harder to diagnose than a broker that names the line.
//   - The password is hashed as the bytes the client sent; Mosquitto hashes
//     it as a C string, so it would stop at a NUL byte.
//   - Iteration counts above 10,000,000 are refused, so a typo cannot make
//     each CONNECT take minutes on a MIPS CPU.
//
// As in Mosquitto, a client that sends a username but no password is
// refused even if the user's password is empty, and an unknown user is
// refused. What to do with a client that sends no username (anonymous) is
// the broker's decision (allow_anonymous), not this package's.
//
// # ACL file
//
// Mosquitto 2.0's acl_file format and semantics (src/security_default.c):
//
//	topic read $SYS/#           # before any user line: anonymous clients only
//	user alice                  # alice's section (sections of one name merge)
//	topic readwrite home/#
//	topic deny home/secret
//	pattern write devices/%c/#  # every client, %c = client ID, %u = username
//
// A client's own section is the anonymous one if it sent no username, else
// its username's (none if the file has no such user). Check looks at the own
// section first: a matching deny refuses, else a matching grant of the
// access allows. If the section decides nothing, the patterns are looked at
// the same way. No match refuses. Consequences worth knowing:
//
//   - Deny wins only within its list: a user's "topic readwrite a/#" allows
//     a/x even if a "pattern deny a/%u" would match, because patterns are
//     only consulted when the user's own lines decide nothing.
//   - The anonymous section applies to anonymous clients only, not to all
//     clients; rules for everyone are written as patterns.
//   - Patterns containing %u never apply to anonymous clients. If the file
//     has any pattern, a client whose username or client ID contains '+' or
//     '#' is refused by every pattern (Mosquitto 2.0 does the same; 1.x also
//     refused '/'). A '/' in a username or client ID adds topic levels to
//     the substituted pattern, as in Mosquitto.
//   - A filter whose first level is '+' or '#' never matches a topic
//     starting with '$' (MQTT-4.7.2-1), so reading $SYS needs a rule such as
//     "topic read $SYS/#".
//   - "topic read" with no filter gives readwrite access to the topic named
//     "read", as in Mosquitto; the loader accepts it and reports a warning
//     ([ACL.Warnings]), as it does for a pattern without %u or %c.
//   - An empty or missing access word means readwrite. Lines are split on
//     spaces and tabs (Mosquitto: spaces only), and a '#' after leading
//     blanks also starts a comment (Mosquitto rejects such a line).
//
// # Subscriptions
//
// Mosquitto 2.0's acl_file does not judge SUBSCRIBE at all: every filter is
// granted (checked against Debian's mosquitto 2.0.11) and each message is
// checked for read access when it is delivered. gatemq refuses filters that
// can never deliver anything, so the client learns at SUBACK time (0x80 in
// 3.1.1, 0x87 in 5.0), and still checks every delivery:
//
//   - a filter is refused if a deny rule covers it entirely (every topic it
//     matches is denied), looking at the own section first, then patterns;
//   - otherwise it is granted if some read grant shares at least one topic
//     with it: a user allowed "sensors/+/temp" may subscribe to "sensors/#"
//     and receives only the temperatures, as with Mosquitto; a user allowed
//     nothing under "admin/" is refused "admin/#".
//
// A deny that covers only part of a filter does not refuse it; delivery
// checks drop the denied topics. The broker must also check Read for each
// retained message sent on subscription and for wills when they are
// published, since those are deliveries too.
package auth
