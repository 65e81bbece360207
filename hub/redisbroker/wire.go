package redisbroker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
)

// The wire format of an envelope, version 1. Every string is a uvarint
// length and its bytes:
//
//	byte     version (1)
//	byte     kind: 1 text message, 2 binary message,
//	         3 presence join, 4 presence leave, 5 presence leave (expired)
//	string   origin hub ID
//	string   broadcast ID ("" for presence)
//	uvarint  number of members to skip, then each member ID as a string
//	rest     a message's payload, as it goes out in the frame; or, for
//	         presence, the member: ID and node as strings, then its data
//
// A message kept in the history (History.PublishKept) is published, and
// kept, with its Seq in front: decimal digits and a colon, then the
// envelope (whose version byte is never a digit).
//
// A member in the presence hash is the same member encoding. Decoders
// reject other versions, so a rolling upgrade to a new format must first
// deploy readers of both.
const wireVersion = 1

const (
	kindText byte = 1 + iota
	kindBinary
	kindJoin
	kindLeave
	kindExpired
)

var errWire = errors.New("redisbroker: malformed envelope")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errWire
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

func appendMember(b []byte, m hub.Member) []byte {
	b = appendString(b, m.ID)
	b = appendString(b, m.Node)
	return append(b, m.Data...)
}

func decodeMember(b []byte) (hub.Member, error) {
	var m hub.Member
	var err error
	if m.ID, b, err = readString(b); err != nil {
		return m, err
	}
	if m.Node, b, err = readString(b); err != nil {
		return m, err
	}
	m.Data = append([]byte(nil), b...)
	return m, nil
}

// encode writes env in the wire format.
func encode(env hub.Envelope) ([]byte, error) {
	kind := kindText
	switch {
	case env.Presence != nil && env.Presence.Joined:
		kind = kindJoin
	case env.Presence != nil && env.Presence.Expired:
		kind = kindExpired
	case env.Presence != nil:
		kind = kindLeave
	case env.Type == hooks.Binary:
		kind = kindBinary
	case env.Type != hooks.Text:
		return nil, fmt.Errorf("redisbroker: envelope type %d", env.Type)
	}
	size := 16 + len(env.Origin) + len(env.ID) + len(env.Data)
	for _, id := range env.Except {
		size += 2 + len(id)
	}
	b := make([]byte, 0, size)
	b = append(b, wireVersion, kind)
	b = appendString(b, env.Origin)
	b = appendString(b, env.ID)
	b = binary.AppendUvarint(b, uint64(len(env.Except)))
	for _, id := range env.Except {
		b = appendString(b, id)
	}
	if env.Presence != nil {
		return appendMember(b, env.Presence.Member), nil
	}
	return append(b, env.Data...), nil
}

// decode reads an envelope of room in the wire format.
func decode(room string, b []byte) (hub.Envelope, error) {
	var env hub.Envelope
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		i := bytes.IndexByte(b, ':')
		if i < 0 || i > 20 {
			return env, errWire
		}
		seq, err := strconv.ParseUint(string(b[:i]), 10, 64)
		if err != nil {
			return env, errWire
		}
		env.Seq, b = seq, b[i+1:]
	}
	if len(b) < 2 || b[0] != wireVersion {
		return env, errWire
	}
	kind := b[1]
	b = b[2:]
	var err error
	if env.Origin, b, err = readString(b); err != nil {
		return env, err
	}
	if env.ID, b, err = readString(b); err != nil {
		return env, err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return env, errWire
	}
	b = b[k:]
	for range n {
		var id string
		if id, b, err = readString(b); err != nil {
			return env, err
		}
		env.Except = append(env.Except, id)
	}
	switch kind {
	case kindText, kindBinary:
		env.Type = hooks.Text
		if kind == kindBinary {
			env.Type = hooks.Binary
		}
		env.Data = b
	case kindJoin, kindLeave, kindExpired:
		m, err := decodeMember(b)
		if err != nil {
			return env, err
		}
		env.Presence = &hub.PresenceEvent{Room: room, Member: m, Joined: kind == kindJoin, Expired: kind == kindExpired}
	default:
		return env, errWire
	}
	return env, nil
}
