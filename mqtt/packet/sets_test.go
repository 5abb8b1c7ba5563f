package packet

import "testing"

// refCodeSet builds a codeSet the way the sets were built at init before
// they became literals.
func refCodeSet(codes ...ReasonCode) codeSet {
	var s codeSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

// TestCodeSets: each reason-code literal holds exactly the codes listed in
// its comment (the specification's tables).
func TestCodeSets(t *testing.T) {
	for _, c := range []struct {
		name string
		got  codeSet
		want codeSet
	}{
		{"connack", connackCodes, refCodeSet(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C,
			0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)},
		{"puback", pubackCodes, refCodeSet(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)},
		{"pubrel", pubrelCodes, refCodeSet(0x00, 0x92)},
		{"suback", subackCodes, refCodeSet(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)},
		{"unsuback", unsubCodes, refCodeSet(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)},
		{"disconnect", disconnectCodes, refCodeSet(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F,
			0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)},
		{"auth", authCodes, refCodeSet(0x00, 0x18, 0x19)},
		{"suback 3.1.1", suback311Set, refCodeSet(0x00, 0x01, 0x02, 0x80)},
	} {
		if c.got != c.want {
			t.Errorf("%s codes: %x, want %x", c.name, c.got, c.want)
		}
	}
}

// refPropSet builds a propSet the way the sets were built at init.
func refPropSet(ids ...int) propSet {
	var s propSet
	for _, id := range ids {
		s |= 1 << id
	}
	return s
}

// TestPropSets: each property constant holds exactly the properties of
// Table 2-4 for its packet.
func TestPropSets(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want propSet
	}{
		{"connect", connectProps, refPropSet(propSessionExpiry, propReceiveMaximum, propMaximumPacketSize, propTopicAliasMaximum,
			propRequestResponseInfo, propRequestProblemInfo, propUser, propAuthMethod, propAuthData)},
		{"will", willProps, refPropSet(propWillDelay, propPayloadFormat, propMessageExpiry, propContentType, propResponseTopic,
			propCorrelationData, propUser)},
		{"connack", connackProps, refPropSet(propSessionExpiry, propReceiveMaximum, propMaximumQoS, propRetainAvailable,
			propMaximumPacketSize, propAssignedClientID, propTopicAliasMaximum, propReasonString, propUser,
			propWildcardSubAvailable, propSubIDAvailable, propSharedSubAvailable, propServerKeepAlive, propResponseInfo,
			propServerReference, propAuthMethod, propAuthData)},
		{"publish", publishProps, refPropSet(propPayloadFormat, propMessageExpiry, propTopicAlias, propResponseTopic,
			propCorrelationData, propUser, propSubscriptionID, propContentType)},
		{"ack", ackProps, refPropSet(propReasonString, propUser)},
		{"subscribe", subscribeProps, refPropSet(propSubscriptionID, propUser)},
		{"suback", subackProps, refPropSet(propReasonString, propUser)},
		{"unsubscribe", unsubscribeProps, refPropSet(propUser)},
		{"unsuback", unsubackProps, refPropSet(propReasonString, propUser)},
		{"disconnect", disconnectProps, refPropSet(propSessionExpiry, propReasonString, propUser, propServerReference)},
		{"auth", authProps, refPropSet(propAuthMethod, propAuthData, propReasonString, propUser)},
	} {
		if c.got != c.want {
			t.Errorf("%s properties: %x, want %x", c.name, c.got, c.want)
		}
	}
}
