package serial

import (
	"sort"
	"strings"
)

// haDevice is the "device" object of a Home Assistant discovery message.
type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model,omitempty"`
}

// haSensor is the payload of homeassistant/sensor/<node>/<key>/config,
// and of homeassistant/device_tracker/<node>/position/config (with
// JSONAttributes and SourceType instead of StateTopic).
type haSensor struct {
	Name              string   `json:"name"`
	UniqueID          string   `json:"unique_id"`
	ObjectID          string   `json:"object_id"`
	StateTopic        string   `json:"state_topic,omitempty"`
	JSONAttributes    string   `json:"json_attributes_topic,omitempty"`
	SourceType        string   `json:"source_type,omitempty"`
	ValueTemplate     string   `json:"value_template,omitempty"`
	AvailabilityTopic string   `json:"availability_topic,omitempty"`
	PayloadAvailable  string   `json:"payload_available,omitempty"`
	PayloadNotAvail   string   `json:"payload_not_available,omitempty"`
	DeviceClass       string   `json:"device_class,omitempty"`
	Unit              string   `json:"unit_of_measurement,omitempty"`
	StateClass        string   `json:"state_class,omitempty"`
	Device            haDevice `json:"device"`
}

// haID turns a name or key into Home Assistant's id alphabet
// ([a-zA-Z0-9_-]): other bytes become '_'.
func haID(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isNameByte(byte(r)) {
			return r
		}
		return '_'
	}, s)
}

// discoveryTopic is the retained config topic of key on the port of the
// normalized config c.
func discoveryTopic(c *Config, key string) string {
	return c.DiscoveryPrefix + "/sensor/" + haID(c.Name) + "/" + haID(key) + "/config"
}

// trackerTopic is the retained config topic of an nmea port's device
// tracker.
func trackerTopic(c *Config) string {
	return c.DiscoveryPrefix + "/device_tracker/" + haID(c.Name) + "/" + trackerKey + "/config"
}

// trackerKey names an nmea port's device tracker in its topic and ids.
const trackerKey = "position"

// idPrefix starts every unique_id and device identifier of the port:
// gatemq_GATEWAY_NODE, or gatemq_NODE when the gateway has no id.
func idPrefix(c *Config) string {
	if c.GatewayID == "" {
		return "gatemq_" + haID(c.Name)
	}
	return "gatemq_" + haID(c.GatewayID) + "_" + haID(c.Name)
}

// haEntity fills the fields every entity of the port shares.
func haEntity(c *Config, key string) haSensor {
	node := haID(c.Name)
	s := haSensor{
		Name:     key,
		UniqueID: idPrefix(c) + "_" + haID(key),
		ObjectID: node + "_" + haID(key),
		Device: haDevice{
			Identifiers:  []string{idPrefix(c)},
			Name:         c.Name,
			Manufacturer: "gatemq",
			Model:        "serial " + string(c.Format),
		},
	}
	if c.StatusTopic != "" {
		s.AvailabilityTopic = c.StatusTopic
		s.PayloadAvailable = StatusOnline
		s.PayloadNotAvail = StatusOffline
	}
	return s
}

// discoveryPayload is the config message announcing key. stateTopic is
// where its value is published; template, when not empty, extracts it from
// a JSON object published there. value is the first value seen, or nil
// when none was yet: it decides the state class of a key that has none
// (see keyMetaOf).
func discoveryPayload(c *Config, key, stateTopic, template string, value []byte) []byte {
	s := haEntity(c, key)
	s.StateTopic = stateTopic
	s.ValueTemplate = template
	m := keyMetaOf(c, key, value)
	s.DeviceClass, s.Unit, s.StateClass = m.deviceClass, m.unit, m.stateClass
	return s.appendJSON(nil)
}

// trackerPayload is the config message of an nmea port's MQTT device
// tracker: Home Assistant reads latitude and longitude from the JSON
// object on BASE (its attributes topic).
func trackerPayload(c *Config) []byte {
	s := haEntity(c, trackerKey)
	s.JSONAttributes = c.Topic
	s.SourceType = "gps"
	return s.appendJSON(nil)
}

// keyMeta is how a key is announced: Home Assistant's device_class,
// unit_of_measurement and state_class ("" leaves each out).
type keyMeta struct{ deviceClass, unit, stateClass string }

// keyMetaOf returns the announcement of key: what its format says (dsmr
// and nmea keys), overridden by the port's serial_device_class,
// serial_unit and serial_state_class. A key left without a state class
// gets one when it is numeric, so that Home Assistant keeps its
// statistics: total_increasing for the energy, gas and water device
// classes (meter readings, as the Energy dashboard wants them),
// measurement otherwise, none for timestamps. value is numeric when it is
// a decimal number; before any value is seen (value nil), a key with a
// unit counts as numeric. State class "none" announces none.
func keyMetaOf(c *Config, key string, value []byte) keyMeta {
	m := formatMeta(c.Format, key)
	if v, ok := c.DeviceClass[key]; ok {
		m.deviceClass = v
	}
	if v, ok := c.Unit[key]; ok {
		m.unit = v
	}
	if v, ok := c.StateClass[key]; ok {
		m.stateClass = v
	}
	if m.stateClass == "" && (value == nil && m.unit != "" || value != nil && isNumeric(value)) {
		switch m.deviceClass {
		case "energy", "gas", "water":
			m.stateClass = "total_increasing"
		case "timestamp", "date", "enum":
		default:
			m.stateClass = "measurement"
		}
	}
	if m.stateClass == "none" {
		m.stateClass = ""
	}
	return m
}

// formatMeta is the announcement the dsmr and nmea formats give their
// keys.
func formatMeta(f Format, key string) keyMeta {
	switch f {
	case FormatDSMR:
		switch {
		case strings.HasPrefix(key, "electricity_delivered_"), strings.HasPrefix(key, "electricity_returned_"):
			return keyMeta{"energy", "kWh", "total_increasing"}
		case strings.HasPrefix(key, "power_"), key == "current_average_demand", key == "maximum_demand_current_month":
			return keyMeta{"power", "kW", "measurement"}
		case strings.HasPrefix(key, "voltage_"):
			return keyMeta{"voltage", "V", "measurement"}
		case strings.HasPrefix(key, "current_l"):
			return keyMeta{"current", "A", "measurement"}
		case key == "gas_delivered":
			return keyMeta{"gas", "m³", "total_increasing"}
		case key == "water_delivered":
			return keyMeta{"water", "m³", "total_increasing"}
		case strings.HasSuffix(key, "timestamp"):
			return keyMeta{"timestamp", "", "none"}
		case key == "electricity_tariff":
			return keyMeta{"", "", "none"} // a tariff number, not a quantity
		}
	case FormatNMEA:
		switch key {
		case "latitude", "longitude", "course":
			return keyMeta{"", "°", "measurement"}
		case "altitude":
			return keyMeta{"distance", "m", "measurement"}
		case "speed":
			return keyMeta{"speed", "km/h", "measurement"}
		case "satellites", "hdop":
			return keyMeta{"", "", "measurement"}
		case "fix":
			return keyMeta{"", "", "none"} // a quality code, not a quantity
		case "time":
			return keyMeta{"timestamp", "", "none"}
		}
	}
	return keyMeta{}
}

// staticKeys lists the keys announced when the bridge starts: the CSV
// fields, the keys with a device class or unit, and "value" for a raw port.
// Other keys (kv, JSON) are announced when first seen.
func staticKeys(c *Config) []string {
	var keys []string
	add := func(k string) {
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	switch c.Format {
	case FormatCSV:
		for _, f := range c.Fields {
			if f != "-" {
				add(f)
			}
		}
	case FormatRaw:
		add(rawKey)
		return keys
	}
	for _, m := range []map[string]string{c.DeviceClass, c.Unit} {
		for _, k := range sortedKeys(m) {
			add(k)
		}
	}
	return keys
}

// rawKey is the discovery key of a raw port's single sensor.
const rawKey = "value"

// sortedKeys returns the keys of m in order. sort.Sort rather than
// sort.Strings or slices.Sorted: the sort package's one interface-based
// sort is in the binary anyway, while slices.Sort[[]string], which
// sort.Strings calls, adds its own copy of pdqsort.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Sort(sort.StringSlice(keys))
	return keys
}
