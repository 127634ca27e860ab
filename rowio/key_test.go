package rowio

import "testing"

func TestKeyEncodingRoundTrip(t *testing.T) {
	key := []any{int64(-5), uint64(1 << 63), "caf\xe9", []byte{0, 1, 2}, float64(1.5), nil}
	s, err := EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeKey(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(AppendKey(nil, back)) != string(AppendKey(nil, key)) {
		t.Fatalf("round trip: %#v -> %s -> %#v", key, s, back)
	}
}
