package topic

import "testing"

// matchCases are the examples of MQTT 3.1.1 §4.7 (and 5.0 §4.7), plus edge
// cases around empty levels. They feed the Match, Tree and Retained tests.
var matchCases = []struct {
	filter, topic string
	want          bool
}{
	// §4.7.1.2 multi-level wildcard.
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/", true},
	{"sport/tennis/player1/#", "sport/tennis/player2", false},
	{"sport/tennis/player1/#", "sport/tennis", false},
	{"sport/#", "sport", true}, // '#' matches the parent level
	{"sport/#", "sport/", true},
	{"sport/#", "sports", false},
	{"#", "sport/tennis/player1", true},
	{"#", "/", true},
	{"#", "/finance", true},
	// §4.7.1.3 single-level wildcard.
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true}, // '+' matches an empty level
	{"+", "finance", true},
	{"+", "/finance", false},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"/+", "finance", false},
	{"+", "", true},
	{"+/+", "/", true},
	{"+", "/", false},
	{"+/tennis/#", "sport/tennis/player1/ranking", true},
	{"+/tennis/#", "sport/tennis", true},
	{"sport/+/player1", "sport/tennis/player1", true},
	{"sport/+/player1", "sport//player1", true},
	// Literal levels, case and empty levels.
	{"/finance", "/finance", true},
	{"/finance", "finance", false},
	{"finance", "/finance", false},
	{"ACCOUNTS", "Accounts", false},
	{"a//b", "a//b", true},
	{"a//b", "a/b", false},
	{"a/b", "a/b/", false},
	// §4.7.2 topics beginning with '$' [MQTT-4.7.2-1].
	{"#", "$SYS/monitor/Clients", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"+", "$SYS", false},
	{"+/#", "$SYS/x", false},
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"$SYS/+/Clients", "$SYS/monitor/Clients", true},
	{"$SYS", "$SYS", true},
	{"a/#", "a/$b", true}, // the rule is about the first character only
	{"a/+", "a/$b", true},
	{"#", "a$", true},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		if got := Match(tc.filter, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestMatchCasesAreValid(t *testing.T) {
	for _, tc := range matchCases {
		if err := ValidFilter([]byte(tc.filter)); err != nil {
			t.Errorf("filter %q: %v", tc.filter, err)
		}
		if tc.topic != "" {
			if err := ValidName([]byte(tc.topic)); err != nil {
				t.Errorf("topic %q: %v", tc.topic, err)
			}
		}
	}
}
