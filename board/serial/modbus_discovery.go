package serial

import (
	"math"
	"strconv"
)

// haModbusEntity is the discovery payload of a Modbus register: a sensor,
// binary_sensor, number or switch.
type haModbusEntity struct {
	Name              string   `json:"name"`
	UniqueID          string   `json:"unique_id"`
	ObjectID          string   `json:"object_id"`
	StateTopic        string   `json:"state_topic"`
	CommandTopic      string   `json:"command_topic,omitempty"`
	AvailabilityTopic string   `json:"availability_topic,omitempty"`
	PayloadAvailable  string   `json:"payload_available,omitempty"`
	PayloadNotAvail   string   `json:"payload_not_available,omitempty"`
	DeviceClass       string   `json:"device_class,omitempty"`
	Unit              string   `json:"unit_of_measurement,omitempty"`
	StateClass        string   `json:"state_class,omitempty"`
	Min               *float64 `json:"min,omitempty"`
	Max               *float64 `json:"max,omitempty"`
	Step              float64  `json:"step,omitempty"`
	Mode              string   `json:"mode,omitempty"`
	Device            haDevice `json:"device"`
}

// component is the Home Assistant platform of a register: a bool is a
// binary_sensor, or a switch when writable; a number is a sensor, or a
// number when writable.
func (r *mbReg) component() string {
	switch {
	case r.typ.IsBool() && r.Writable:
		return "switch"
	case r.typ.IsBool():
		return "binary_sensor"
	case r.Writable:
		return "number"
	}
	return "sensor"
}

// announce publishes every slave's status as offline (until it answers)
// and the retained discovery config of every register under
// PREFIX/COMPONENT/NAME/KEY/config. With more than one slave, each slave
// is a device of its own ("NAME slave N").
func (p *modbusPoller) announce() {
	for _, sl := range p.slaves {
		p.b.mbSetSlave(sl, false)
	}
	c := &p.b.cfg
	if !c.Discovery {
		return
	}
	node := haID(c.Name)
	for i := range p.regs {
		r := &p.regs[i]
		// Ids carry this gateway's id, as every format's do (idPrefix).
		dev := haDevice{Identifiers: []string{idPrefix(c)}, Name: c.Name, Manufacturer: "gatemq", Model: "serial modbus"}
		if len(p.slaves) > 1 {
			id := strconv.Itoa(int(r.slave.id))
			dev.Identifiers[0] += "_" + id
			dev.Name += " slave " + id
		}
		e := haModbusEntity{
			Name:         r.Name,
			UniqueID:     idPrefix(c) + "_" + haID(r.Name),
			ObjectID:     node + "_" + haID(r.Name),
			StateTopic:   r.topic,
			CommandTopic: r.setTopic,
			DeviceClass:  r.Class,
			Device:       dev,
		}
		if r.slave.statusTopic != "" {
			e.AvailabilityTopic = r.slave.statusTopic
			e.PayloadAvailable, e.PayloadNotAvail = StatusOnline, StatusOffline
		}
		switch r.component() {
		case "sensor":
			e.Unit = r.Unit
			e.StateClass = r.StateClass
			if e.StateClass == "" {
				e.StateClass = "measurement"
			}
			if e.StateClass == "none" {
				e.StateClass = ""
			}
		case "number":
			e.Unit = r.Unit
			lo, hi := r.typ.Range()
			lo, hi = lo*r.Scale+r.Offset, hi*r.Scale+r.Offset
			if lo > hi {
				lo, hi = hi, lo
			}
			lo, hi = max(lo, -math.MaxFloat32), min(hi, math.MaxFloat32) // JSON numbers HA reads
			e.Min, e.Max = &lo, &hi
			e.Step = 1
			if r.typ.IsFloat() {
				e.Step = 0.001
			} else if s := math.Abs(r.Scale); s < 1 {
				e.Step = max(s, 0.001) // HA's smallest step
			} else {
				e.Step = s
			}
			e.Mode = "box"
		}
		p.publishDiscovery(r.component(), node, r.Name, e)
	}
}

// publishDiscovery publishes one register's retained discovery config.
func (p *modbusPoller) publishDiscovery(component, node, key string, e haModbusEntity) {
	topic := p.b.cfg.DiscoveryPrefix + "/" + component + "/" + node + "/" + haID(key) + "/config"
	payload, ok := e.appendJSON(nil)
	if !ok { // strings and finite numbers: cannot fail
		return
	}
	if err := p.b.broker.Publish(topic, payload, 1, true); err != nil {
		p.b.log.Warn("publishing Home Assistant discovery", "topic", topic, "err", err)
	}
}
