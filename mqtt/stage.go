package mqtt

import (
	"gatemq/flashstore"
	"gatemq/qos"
)

// stageOf maps a stored route stage onto the QoS state machine's stage.
func stageOf(stage uint8) qos.Stage {
	switch stage {
	case flashstore.RouteSent:
		return qos.Sent
	case flashstore.RouteReleased:
		return qos.Released
	}
	return qos.Queued
}
