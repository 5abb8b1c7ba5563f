// Package topic validates MQTT topic names and filters, matches topic names
// against filters, keeps the broker's subscription tree, and stores retained
// messages.
//
// It follows MQTT 3.1.1 §4.7 and 5.0 §4.7/§4.8.2: levels are separated by
// '/', empty levels are allowed, '+' matches exactly one level (possibly
// empty), '#' matches the parent level and any number of child levels, and
// filters starting with a wildcard never match topic names starting with '$'
// [MQTT-4.7.2-1].
//
// Typical use by the broker:
//
//	// SUBSCRIBE
//	if err := topic.ValidFilter(raw); err != nil { /* reason code 0x8F */ }
//	group, filter, _ := topic.ParseShared(string(raw))
//	tree.Add(filter, topic.Sub[*session]{Key: s, QoS: 1, Group: group})
//
//	// PUBLISH (topic already checked with topic.ValidName)
//	subs = tree.Match(pub.Topic, subs[:0]) // no allocation on a cache hit
//	subs = topic.Dedup(subs)              // after NoLocal filtering
//
// # Concurrency
//
// Tree and Retained are not safe for concurrent use. Every method, Match
// included, may modify internal state (Tree.Match fills its result cache), so
// the caller must hold an exclusive lock (not a read lock) around each call.
//
// # Ownership
//
// Slices passed in are not retained: Tree.Match only reads topic during the
// call, and strings given to Add and Set are kept (strings are immutable).
// The Sub values appended by Tree.Match are copies; the dst slice belongs to
// the caller.
//
// The package owns topic names, filters and their matching; it imports
// nothing of this module, so the broker's sessions appear here only as the
// type parameter of Tree.
package topic
