package topic

// dedupMapMin is the input length above which Dedup indexes kept entries
// in a map instead of scanning them (which allocates the map).
const dedupMapMin = 32

// Dedup collapses the non-shared entries (Group == "") that have the same
// Key into the first of them, raising its QoS to the highest among them
// [MQTT-3.3.5-1] and setting RetainAsPublished if any of them has it. The
// kept entry keeps its own ID, NoLocal and other fields. Shared entries are
// never collapsed. Kept entries stay in first-seen order.
//
// Dedup works in place and returns subs[:n]. It only permutes subs (and
// raises the kept entries' QoS), so the dropped duplicates are in
// subs[n:len(subs)] afterwards: call SubscriptionIDs on the full slice to
// collect every subscription identifier of one subscriber (5.0 §3.3.4).
// Apply NoLocal before Dedup, since a duplicate without NoLocal must still
// deliver. It allocates nothing for inputs of up to 32 entries.
func Dedup[K comparable](subs []Sub[K]) []Sub[K] {
	var seen map[K]int
	if len(subs) > dedupMapMin {
		seen = make(map[K]int, len(subs))
	}
	n := 0
	for i := range subs {
		if s := &subs[i]; s.Group == "" {
			j := -1
			if seen != nil {
				if k, ok := seen[s.Key]; ok {
					j = k
				} else {
					seen[s.Key] = n
				}
			} else {
				j = findKept(subs[:n], s.Key)
			}
			if j >= 0 {
				k := &subs[j]
				k.QoS = max(k.QoS, s.QoS)
				k.RetainAsPublished = k.RetainAsPublished || s.RetainAsPublished
				continue // the duplicate stays at i, beyond n
			}
		}
		subs[i], subs[n] = subs[n], subs[i]
		n++
	}
	return subs[:n]
}

// findKept returns the index of the non-shared entry of key in kept, or -1.
func findKept[K comparable](kept []Sub[K], key K) int {
	for j := range kept {
		if kept[j].Group == "" && kept[j].Key == key {
			return j
		}
	}
	return -1
}

// SubscriptionIDs appends to dst the non-zero subscription identifiers of
// the non-shared entries of subs whose Key is key, in order, and returns the
// extended slice. Pass the whole slice Dedup worked on (not only the part it
// returned) to get the identifiers of the collapsed duplicates too.
func SubscriptionIDs[K comparable](subs []Sub[K], key K, dst []uint32) []uint32 {
	for i := range subs {
		if s := &subs[i]; s.Group == "" && s.Key == key && s.ID != 0 {
			dst = append(dst, s.ID)
		}
	}
	return dst
}
