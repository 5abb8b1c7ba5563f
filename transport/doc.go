// Package transport runs gatemq's network listeners and hands every accepted
// connection to a handler in its own goroutine.
//
// It imports nothing of this module: the broker plugs in as a [Handler]
// (main passes the broker's connection-serving method), so the broker core
// never sees a listener, and this package never sees MQTT.
//
// Usage:
//
//	srv := transport.NewServer(broker.ServeConn, logger, 1000)
//	addr, err := srv.Listen(transport.ListenerConfig{Network: "tcp", Address: ":1883"})
//	if err != nil {
//		return err // e.g. the port is busy; the error names the address
//	}
//	logger.Info("listening", "addr", addr)
//	...
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	err = srv.Shutdown(ctx) // stop accepting, cancel handlers' ctx, wait for them
//
// # Detached connections
//
// A handler may return before its connection ends ([ConnInfo.Detach]), so
// that an idle connection needs no goroutine: the broker parks idle
// connections and serves them again when they have something to say. The
// server counts such a connection as open, against the limits and in
// Shutdown's wait, until the handler's side reports its end.
//
// # Limits
//
// A connection over the server-wide limit or over its listener's limit is
// accepted and closed at once, so the listen queue never clogs and the
// listener keeps serving once connections drop. Such connections are
// counted by [Server.Rejected] and logged at debug level.
//
// # Accept errors
//
// Accept errors other than a closed listener (EMFILE, ENFILE, ENOBUFS,
// ENOMEM, ...) are retried after a pause that starts at 5ms and doubles up
// to 1s, and resets after the next successful accept. Go marks only some of
// these as temporary, but on a small router all of them are passing
// conditions, and a listener that gave up would leave the broker deaf.
//
// # Address families
//
// A listener binds exactly the family of the address it is given, as
// Mosquitto does: "0.0.0.0:1883" is IPv4 only, "[::]:1883" is IPv6 only
// (IPV6_V6ONLY), and ":1883" (no address) takes both. Go's plain "tcp"
// would make the first two dual-stack sockets, opening a router's broker
// on IPv6 when the config asked for IPv4.
//
// # Sockets
//
// Accepted TCP connections have TCP_NODELAY set (MQTT packets are small and
// latency matters) and TCP keep-alive enabled (idle 60s, then 4 probes 15s
// apart), so a peer that vanished without a FIN is eventually noticed even
// if the MQTT keep-alive is 0.
package transport
