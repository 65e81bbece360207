package redisbroker

import (
	"reflect"
	"testing"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
)

// TestWireRoundTrip: every kind of envelope decodes to what was encoded,
// and what is not an envelope of this version is refused.
func TestWireRoundTrip(t *testing.T) {
	member := hub.Member{ID: "n1.7", Node: "n1", Data: []byte("ann")}
	for _, env := range []hub.Envelope{
		{Type: hooks.Text, Data: []byte("hello"), Origin: "n1", ID: "n1.1", Except: []string{"n1.7", "n2.9"}},
		{Type: hooks.Binary, Data: []byte{0, 1, 2, 255}, Origin: "n2", ID: "n2.a"},
		{Type: hooks.Text, Data: []byte{}, Origin: "n1", ID: "n1.2"},
		{Origin: "n1", Presence: &hub.PresenceEvent{Room: "lobby", Member: member, Joined: true}},
		{Origin: "n1", Presence: &hub.PresenceEvent{Room: "lobby", Member: member}},
		{Origin: "n3", Presence: &hub.PresenceEvent{Room: "lobby", Member: member, Expired: true}},
	} {
		b, err := encode(env)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode("lobby", b)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", env, err)
		}
		if len(got.Data) == 0 && len(env.Data) == 0 {
			got.Data, env.Data = nil, nil
		}
		if !reflect.DeepEqual(got, env) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, env)
		}
	}
	kept, _ := encode(hub.Envelope{Type: hooks.Text, Data: []byte("hi"), Origin: "n1", ID: "n1.3"})
	got, err := decode("lobby", append([]byte("1733000000000042:"), kept...))
	if err != nil || got.Seq != 1733000000000042 || string(got.Data) != "hi" {
		t.Fatalf("a kept message decoded to %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2, 1}, {1, 9, 0, 0, 0}, {1, 1, 200}, []byte("12"), []byte("1x:\x01\x01"), []byte("99999999999999999999:\x01\x01")} {
		if _, err := decode("lobby", bad); err == nil {
			t.Errorf("decode(%v) accepted it", bad)
		}
	}
	if _, err := encode(hub.Envelope{Type: 7}); err == nil {
		t.Error("encode of a type that is neither Text nor Binary accepted it")
	}
}

// FuzzDecode: no input makes decode panic, and what it accepts encodes
// back to something that decodes the same.
func FuzzDecode(f *testing.F) {
	b, _ := encode(hub.Envelope{Type: hooks.Text, Data: []byte("x"), Origin: "o", ID: "i", Except: []string{"e"}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := decode("r", data)
		if err != nil {
			return
		}
		again, err := encode(env)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", env, err)
		}
		if _, err := decode("r", again); err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
	})
}
