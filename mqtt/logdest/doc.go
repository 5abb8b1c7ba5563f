// Package logdest sends the broker's log lines where Mosquitto's log_dest,
// log_type, log_timestamp, log_timestamp_format and log_facility say:
// standard output and error, a file (reopened on SIGHUP for log
// rotation), syslog, and the broker's own $SYS/broker/log/... topics.
//
// A [Logger] is a [textlog.Handler] source: every destination gets the same
// line, in slog's text layout (time=... level=... msg=... key=value),
// except syslog, which adds its own time. Records are sorted into
// Mosquitto's log types by level ([LevelNotice] for notices) or, for the
// types that are not levels, by an attribute [TypeKey] ("subscribe",
// "unsubscribe", "websockets"); only the enabled types are written.
//
//	lg, err := logdest.Open(logdest.Options{
//		Dests: []string{"stderr", "file /var/log/gatemq.log", "topic"},
//		Types: logdest.DefaultTypes,
//		Timestamp: true,
//	})
//	log := textlog.New(lg.Handler())
//	// once the broker runs:
//	lg.SetPublish(func(topic string, payload []byte) { broker.Publish(topic, payload, 2, false) })
//
// The package imports nothing of gatemq but internal/textlog (the logger,
// which writes slog's text without linking log/slog): the topic
// destination publishes through the function given to SetPublish.
package logdest
