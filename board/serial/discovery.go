package serial

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// haDevice is the "device" object of a Home Assistant discovery message.
type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model,omitempty"`
}

// haSensor is the payload of homeassistant/sensor/<node>/<key>/config.
type haSensor struct {
	Name              string   `json:"name"`
	UniqueID          string   `json:"unique_id"`
	ObjectID          string   `json:"object_id"`
	StateTopic        string   `json:"state_topic"`
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

// idPrefix starts every unique_id and device identifier of the port:
// gatemq_GATEWAY_NODE, or gatemq_NODE when the gateway has no id.
func idPrefix(c *Config) string {
	if c.GatewayID == "" {
		return "gatemq_" + haID(c.Name)
	}
	return "gatemq_" + haID(c.GatewayID) + "_" + haID(c.Name)
}

// discoveryPayload is the config message announcing key. stateTopic is
// where its value is published; template, when not empty, extracts it from
// a JSON object published there.
func discoveryPayload(c *Config, key, stateTopic, template string) []byte {
	node := haID(c.Name)
	s := haSensor{
		Name:          key,
		UniqueID:      idPrefix(c) + "_" + haID(key),
		ObjectID:      node + "_" + haID(key),
		StateTopic:    stateTopic,
		ValueTemplate: template,
		DeviceClass:   c.DeviceClass[key],
		Unit:          c.Unit[key],
		Device: haDevice{
			Identifiers:  []string{idPrefix(c)},
			Name:         c.Name,
			Manufacturer: "gatemq",
			Model:        "serial " + string(c.Format),
		},
	}
	if s.Unit != "" {
		s.StateClass = "measurement"
	}
	if c.StatusTopic != "" {
		s.AvailabilityTopic = c.StatusTopic
		s.PayloadAvailable = StatusOnline
		s.PayloadNotAvail = StatusOffline
	}
	b, err := json.Marshal(s)
	if err != nil { // strings only: cannot fail
		return nil
	}
	return b
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

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
