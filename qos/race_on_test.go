//go:build race

package qos

// raceOn is set when the race detector is on: heavy tests shrink.
const raceOn = true
