package serial

import "errors"

// framer cuts the byte stream of a device into the units its format reads
// (lines, DSMR telegrams), holding a bounded buffer. The unit given to emit
// is valid only until emit returns.
type framer interface {
	// feed cuts p and calls emit for every complete unit; it returns how
	// many over-long units it began to skip.
	feed(p []byte, emit func(unit []byte)) (tooLong int)
	// reset drops an unfinished unit and reports whether there was one.
	reset() (partial bool)
}

// useFormat sets how the bridge frames and handles what the device sends:
// lines for kv, json, raw and csv, and NMEA sentences; telegrams for DSMR.
func (b *Bridge) useFormat() {
	b.frame, b.emit = b.split, b.handleLine
	switch b.cfg.Format {
	case FormatDSMR:
		b.frame = newDSMRFramer(b.cfg.MaxLine, b.badTelegram)
		b.dsmr = &dsmrDecoder{}
		b.emit = b.handleTelegram
	case FormatNMEA:
		b.nmea = &nmeaState{}
		b.emit = b.handleSentence
	case FormatModbus:
		b.mb = newModbusPoller(b)
	}
}

// badTelegram counts what the DSMR framer skips between telegrams.
func (b *Bridge) badTelegram(kind string) {
	switch kind {
	case "partial":
		b.st.partial.Add(1)
		b.warnOnce("dsmr_partial", "DSMR telegram cut short by the next one skipped")
	case "noise":
		b.st.garbage.Add(1)
		b.warnOnce("garbage", "noise between DSMR telegrams skipped (wrong baud rate or line settings?)")
	}
}

// handleTelegram publishes the readings of one DSMR telegram whose CRC
// matches (or that needs none).
func (b *Bridge) handleTelegram(t []byte) {
	rs, err := b.dsmr.decode(t)
	switch {
	case err == nil:
		b.publishReadings(rs)
	case errors.Is(err, errDSMRCRC), errors.Is(err, errDSMRCRCField), errors.Is(err, errDSMRNoCRC):
		b.st.checksumErrors.Add(1)
		b.warnOnce("checksum", "DSMR telegram with a bad CRC skipped", "err", err, "len", len(t))
	default:
		b.st.parseErrors.Add(1)
		b.warnOnce("parse", "DSMR telegram skipped", "err", err, "len", len(t))
	}
}

// handleSentence reads one NMEA sentence and publishes the fixes it
// completes.
func (b *Bridge) handleSentence(line []byte) {
	err := b.nmea.feed(line, b.publishReadings)
	switch {
	case err == nil:
	case errors.Is(err, errNMEAChecksum):
		b.st.checksumErrors.Add(1)
		b.warnOnce("checksum", "NMEA sentence with a missing or wrong checksum skipped", "line", string(line))
	case errors.Is(err, errNMEANoSentence), errors.Is(err, errNMEAText):
		b.st.garbage.Add(1)
		b.warnOnce("garbage", "serial line that is no NMEA sentence skipped (wrong baud rate?)", "len", len(line))
	default:
		b.st.parseErrors.Add(1)
		b.warnOnce("parse", "NMEA sentence with a malformed field skipped", "err", err, "line", string(line))
	}
}
