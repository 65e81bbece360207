package fiberws

import (
	"bytes"
	"encoding/binary"
	stdjson "encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"github.com/fiberws/fiberws/hooks"
)

// Fuzz targets for everything that parses client input: message decoding
// for each body kind, close-reason truncation and close-code validation.
// The seed corpus lives in testdata/fuzz/<FuzzName>/; scripts/fuzz.sh runs
// each target for a bounded time.

type fuzzBody struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Tags  []string          `json:"tags"`
	Meta  map[string]string `json:"meta"`
	Inner *struct {
		OK    bool    `json:"ok"`
		Ratio float64 `json:"ratio"`
	} `json:"inner"`
}

var fuzzSeeds = [][]byte{
	nil,
	[]byte(""),
	[]byte("hello"),
	[]byte(`{"name":"a","count":1,"tags":["x"],"meta":{"k":"v"},"inner":{"ok":true,"ratio":0.5}}`),
	[]byte(`{"name":`),
	[]byte(`null`),
	[]byte(`[1,2,3]`),
	[]byte(`{"count":1e400}`),
	[]byte(`{"name":"\ud800"}`),
	[]byte("\xff\xfe\xfd"),
	[]byte(`{"inner":{"ok":"yes"}}`),
	bytes.Repeat([]byte("["), 10000),
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
}

// checkCopy fails if the decoded bytes alias the frame buffer, which is
// returned to a pool once the handler is done.
func checkCopy(t *testing.T, data, got []byte) {
	if !bytes.Equal(got, data) {
		t.Fatalf("decoded %q, want %q", got, data)
	}
	if len(data) > 0 && len(got) > 0 && &got[0] == &data[0] {
		t.Fatal("decoded bytes alias the frame buffer")
	}
}

func FuzzDecodeString(f *testing.F) {
	addSeeds(f)
	dec := newDecoder[string]()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := dec(data)
		if err != nil || s != string(data) {
			t.Fatalf("decode %q: %q, %v", data, s, err)
		}
	})
}

func FuzzDecodeBytes(f *testing.F) {
	addSeeds(f)
	dec := newDecoder[[]byte]()
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := dec(data)
		if err != nil {
			t.Fatal(err)
		}
		checkCopy(t, data, b)
	})
}

func FuzzDecodePointers(f *testing.F) {
	addSeeds(f)
	decS, decB := newDecoder[*string](), newDecoder[*[]byte]()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decS(data)
		if err != nil || s == nil || *s != string(data) {
			t.Fatalf("*string: %v %v", s, err)
		}
		b, err := decB(data)
		if err != nil || b == nil {
			t.Fatalf("*[]byte: %v %v", b, err)
		}
		checkCopy(t, data, *b)
	})
}

// FuzzDecodeJSON: any payload either decodes or fails with a *DecodeError
// (which closes with 1007); it never panics. What decodes re-encodes to
// valid UTF-8 (it goes out as a text frame) that decodes again, and from
// then on the round trip is stable. (Not byte-equal on the first round:
// invalid UTF-8 inside a JSON string, possible in a binary frame, comes
// back as "\ufffd".)
func FuzzDecodeJSON(f *testing.F) {
	addSeeds(f)
	dec, enc := newDecoder[fuzzBody](), newEncoder[fuzzBody]()
	roundTrip := func(t *testing.T, data []byte) []byte {
		v, err := dec(data)
		if err != nil {
			t.Fatalf("re-decode %q: %v", data, err)
		}
		mt, out, skip, err := enc(v)
		if err != nil || skip || mt != hooks.Text {
			t.Fatalf("re-encode: %v %v %v", mt, skip, err)
		}
		if !utf8.Valid(out) {
			t.Fatalf("encoded JSON is not valid UTF-8: %q", out)
		}
		return append([]byte(nil), out...)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := dec(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			return
		}
		mt, out, skip, err := enc(v)
		if err != nil || skip || mt != hooks.Text {
			t.Fatalf("encode: %v %v %v", mt, skip, err)
		}
		if !utf8.Valid(out) {
			t.Fatalf("encoded JSON is not valid UTF-8: %q", out)
		}
		out2 := roundTrip(t, out)
		if out3 := roundTrip(t, out2); !bytes.Equal(out2, out3) {
			t.Fatalf("round trip not stable: %q != %q", out2, out3)
		}
	})
}

// FuzzDecodeJSONPointer covers pointer and dynamic bodies.
func FuzzDecodeJSONPointer(f *testing.F) {
	addSeeds(f)
	decP, decAny, decMap := newDecoder[*fuzzBody](), newDecoder[any](), newDecoder[map[string]any]()
	f.Fuzz(func(t *testing.T, data []byte) {
		isDecodeError := func(err error) {
			var de *DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
		}
		_, err := decP(data)
		isDecodeError(err)
		_, err = decAny(data)
		isDecodeError(err)
		_, err = decMap(data)
		isDecodeError(err)
	})
}

// FuzzTruncateReason: the result fits a close frame (<= 123 bytes), is
// valid UTF-8, and, for valid UTF-8 input, is the longest prefix of it that
// fits without splitting a character.
func FuzzTruncateReason(f *testing.F) {
	for _, s := range []string{"", "bye", strings.Repeat("a", 123), strings.Repeat("a", 124),
		strings.Repeat("é", 62), strings.Repeat("€", 41) + "ab", strings.Repeat("😀", 31), "a\xffb", "\xed\xa0\x80", strings.Repeat("x", 122) + "€"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := truncateReason(in)
		if len(out) > MaxCloseReason {
			t.Fatalf("%d bytes", len(out))
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 %q", out)
		}
		if utf8.ValidString(in) {
			if !strings.HasPrefix(in, out) {
				t.Fatalf("%q is not a prefix of %q", out, in)
			}
			if len(in) <= MaxCloseReason && out != in {
				t.Fatalf("short reason changed: %q -> %q", in, out)
			}
			if rest := in[len(out):]; rest != "" {
				r, size := utf8.DecodeRuneInString(rest)
				if len(out)+size <= MaxCloseReason && r != utf8.RuneError {
					t.Fatalf("cut too early: %q then %q", out, rest)
				}
			}
		}
		// It makes a close frame the peer accepts.
		msg := websocket.FormatCloseMessage(CloseNormalClosure, out)
		if len(msg) > 125 {
			t.Fatalf("close frame payload %d bytes", len(msg))
		}
	})
}

// FuzzValidCloseCode checks ValidCloseCode against RFC 6455 7.4 and the
// IANA registry, and that every code it allows survives a close frame.
func FuzzValidCloseCode(f *testing.F) {
	for _, c := range []int{-1, 0, 999, 1000, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 1016, 2999, 3000, 4999, 5000, 65535, 65536 + 1000} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, code int) {
		want := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
		if got := ValidCloseCode(code); got != want {
			t.Fatalf("ValidCloseCode(%d) = %v, want %v", code, got, want)
		}
		if !want {
			return
		}
		msg := websocket.FormatCloseMessage(code, "r")
		if back := int(binary.BigEndian.Uint16(msg)); back != code {
			t.Fatalf("code %d came back as %d", code, back)
		}
	})
}

// FuzzJSONEvents: no frame makes the envelope scanner panic or run long;
// whatever encoding/json (strict, where go-json skips unknown values
// loosely) reads as an envelope (an object with a string "event" and an
// integer "id"), the scanner reads the same; and what it accepts,
// written back with Append, reads back to the same frame.
func FuzzJSONEvents(f *testing.F) {
	for _, s := range []string{
		`{"event":"add","data":{"a":2,"b":40},"id":1}`,
		`{"event":"join"}`,
		` { "id" : 0 , "x" : [1,{"y":"}"}] , "data" : "s\"" , "event" : "a\u00e9" } `,
		`{"event":"e","data":[[[[]]]]}`,
		`{"event":1}`, `[]`, `{"event":"e","id":-1}`, `{"event":"e","id":1.5}`, `{"event":"e",}`,
		`{"event":"e","data":1,"x":2,"id":7}`, `{"event":"e","data":"a,\"id\":7","id":8}`, `{"event":"e","id":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		got, err := JSONEvents.Parse(frame)
		var want struct {
			Event *string            `json:"event"`
			ID    *uint64            `json:"id"`
			Data  stdjson.RawMessage `json:"data"`
		}
		// encoding/json matches keys without regard to case, and the last of
		// duplicates wins; the envelope's keys are lower case: compare only
		// frames with at most one of each key, spelt as the envelope spells it.
		lower := bytes.ToLower(frame)
		once := func(key string) bool {
			n := bytes.Count(lower, []byte(key))
			return n <= 1 && bytes.Count(frame, []byte(key)) == n
		}
		plain := bytes.Count(frame, []byte(`"event"`)) == 1 && once(`"event"`) && once(`"id"`) && once(`"data"`) &&
			!bytes.Contains(frame, []byte(`\`)) && utf8.Valid(frame)
		if plain && stdjson.Unmarshal(frame, &want) == nil && want.Event != nil && bytes.HasPrefix(bytes.TrimSpace(frame), []byte("{")) {
			if err != nil {
				t.Fatalf("encoding/json reads %q as an envelope, the scanner refuses it: %v", frame, err)
			}
			if got.Event != *want.Event || got.HasID != (want.ID != nil) || (want.ID != nil && got.ID != *want.ID) {
				t.Fatalf("%q: scanner %+v, encoding/json event %q id %v", frame, got, *want.Event, want.ID)
			}
		}
		// parseCommon's guess, once its data is confirmed as one JSON
		// value (as the handler's decoding does), is the full scan's.
		if guess, ok := parseCommon(frame); ok && (guess.Data == nil || stdjson.Valid(guess.Data)) {
			if err != nil {
				t.Fatalf("%q: parseCommon guessed %+v, Parse refuses it: %v", frame, guess, err)
			}
			if guess.Event != got.Event || guess.ID != got.ID || guess.HasID != got.HasID || !bytes.Equal(guess.Data, got.Data) {
				t.Fatalf("%q: parseCommon %+v, Parse %+v", frame, guess, got)
			}
		}
		if err != nil {
			return
		}
		got.Event = strings.Clone(got.Event)
		again, err := JSONEvents.Parse(JSONEvents.Append(nil, got))
		if err != nil || again.Event != got.Event || again.ID != got.ID || again.HasID != got.HasID || !bytes.Equal(again.Data, got.Data) {
			t.Fatalf("%q: round trip %+v -> %+v (%v)", frame, got, again, err)
		}
	})
}
