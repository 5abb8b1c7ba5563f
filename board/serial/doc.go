// Package serial is gatemq's serial sensor bridge: it turns the lines that
// sensors send on serial ports into MQTT messages, and MQTT commands back
// into lines written to the device.
//
// It owns everything between a serial device and the broker:
//
//   - ports: a port's settings ([Config], one `serial NAME DEVICE` block of
//     the config file), opening the device with go.bug.st/serial, and
//     listing the machine's ports with their USB ids and /dev/serial/by-id
//     links ([ListPorts], [WritePortList], [PrintPorts]);
//   - line formats: kv, json, raw and csv lines ([Format]) become readings
//     published on BASE or BASE/KEY (BASE is serial/NAME by default);
//   - protocols: DSMR P1 telegrams of smart meters ([FormatDSMR],
//     dsmr.go and dsmr_frame.go: framed from '/' to "!CRC", CRC-16
//     checked, OBIS codes to keys with units) and NMEA 0183 from GPS
//     receivers ([FormatNMEA], nmea.go: checksums checked, GGA, RMC and
//     VTG merged into one fix per epoch, also as JSON on BASE);
//   - commands: messages on BASE/cmd are queued (bounded, retained ones
//     never replayed) and written to the device with the port's line
//     ending;
//   - Home Assistant discovery: retained sensor configs under
//     homeassistant/sensor/NAME/KEY/config, with a device class, unit and
//     state class per key (the dsmr and nmea formats bring their own),
//     unique_ids that include this gateway's id ([GatewayID]), and an MQTT
//     device tracker for an nmea port;
//   - hot-plug: a device absent at start or unplugged later is reopened
//     with back-off, and the retained BASE/status says [StatusOnline] or
//     [StatusOffline];
//   - Modbus RTU ([FormatModbus], the modbus_*.go files): a master that
//     polls the registers of Config.Modbus on one or more slaves, publishes
//     each value on BASE/NAME, writes BASE/NAME/set to writable registers,
//     and counts every slave's transactions ([Bridge.ModbusStats], and
//     under $SYS/broker/serial/NAME/). The codec — frames, CRC, PDUs,
//     register types, read planning — is the sub-package
//     board/serial/modbus, which does no I/O.
//
// # Dependencies
//
// The package imports nothing of this module; in particular it must never
// import gatemq/mqtt, gatemq/transport or gatemq/flashstore. It declares
// the small publish/subscribe interface it needs, [Broker], which the
// broker's in-process API (mqtt.Server's Publish and Subscribe) satisfies;
// main passes it in through a two-method adapter, because Server.Subscribe
// takes the named handler type mqtt.LocalHandler. deps_test.go at the
// module root enforces these rules.
//
// # Usage
//
// main starts every configured port with one call and stops them before
// the broker shuts down, so the offline statuses still go out:
//
//	stop := serial.Start(ports, broker, log) // ports []serial.Config
//	...
//	stop() // every bridge has published offline and ended
//
// One port by hand:
//
//	b, err := serial.NewBridge(serial.Config{Name: "weather", Device: "/dev/ttyUSB0"}, broker, log)
//	if err != nil {
//		return err // a bad config wraps ErrBadConfig
//	}
//	err = b.Run(ctx) // until ctx is done; Run owns every goroutine it starts
//
// # Devices
//
// No read timeout is set on a device (with one, go.bug.st/serial's Read
// returns 0, nil each time it expires): closing the device ends a blocked
// Read, and a device that goes away ends it the same way. Commands go out through a second descriptor of the same
// tty with write deadlines, so a device that stops taking bytes cannot
// hold up the bridge. Lines (and DSMR telegrams) longer than
// Config.MaxLine, binary noise, lines not in the port's format and
// telegrams or sentences whose checksum fails are counted in [Stats] and
// skipped; no buffer grows past MaxLine.
//
// # Modbus sessions
//
// A Modbus port's session has a reader goroutine that only hands the
// bytes read to the poller, in chunks, through a channel of 16; the poller
// runs on Run's goroutine and is the only one writing to the device. A
// transaction waits for 3.5 character times of silence (what is heard
// meanwhile is noise), writes the request, and gathers at most one frame
// (256 bytes) until modbus.ResponseLen says it is whole or the response
// timeout passes. Set messages are queued (bounded by CmdQueue) by the
// publisher's goroutine and carried out by the poller between reads.
package serial
