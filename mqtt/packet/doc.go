// Package packet encodes and decodes MQTT 3.1.1 and MQTT 5.0 control packets.
//
// It is a codec and nothing else: it checks every packet-format rule of the two OASIS specifications
// (each check names its conformance statement, e.g. [MQTT-3.3.2-2], in the error message) but makes
// no broker decisions such as which protocol names, levels, client identifiers or topic filters to accept.
//
// Decoding is zero-copy: a decoded Packet's byte slices are views into the packet body, and a Packet
// reused for a connection keeps its slice capacity, so steady-state decoding of PUBLISH and the
// acknowledgements allocates nothing.
//
// Memory follows the packet's size, not its content: User Properties (UserProperties) stay in their
// wire form, a view of the body however many there are, and a Packet or Reader that a large packet
// grew gives that memory back before it waits for the next one. Encoding appends to a caller-owned buffer and allocates nothing
// when the buffer has room. AppendPublishHeader lets a broker write the header of a PUBLISH once per
// subscriber and the shared payload after it.
//
// A connection's read loop:
//
//	br := bufio.NewReaderSize(conn, 4096)
//	rd := packet.NewReader(br, maxPacket)
//	var p packet.Packet
//	version := packet.V311 // until CONNECT says otherwise
//	for {
//		if err := rd.Read(version, &p); err != nil {
//			var pe *packet.Error
//			if errors.As(err, &pe) && version == packet.V5 {
//				// send DISCONNECT with pe.Code, then close
//			}
//			return err
//		}
//		if p.Type == packet.CONNECT {
//			version = p.Connect.ProtocolLevel
//		}
//		// p's slices are valid until the next Read: copy what outlives it.
//	}
//
// Writing:
//
//	buf = ack.Append(buf[:0], version)
//	buf = packet.AppendPublishHeader(buf[:0], version, false, 1, false, topic, id, &props, len(payload))
//	w.Write(buf); w.Write(payload)
//
// The package owns the bytes of MQTT packets and nothing else: it imports
// nothing of this module (not the broker, the topic tree or the store), so
// its decoders can be fuzzed and reused alone.
package packet
