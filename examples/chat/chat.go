package main

import (
	"context"
	stdjson "encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	"github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
)

// Limits of the chat, checked by the guard and the interceptor.
const (
	MaxName    = 24  // characters in a name
	MaxMessage = 500 // characters in a message; longer ones are cut
)

var roomPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Incoming is what the page sends: {"text":"hello"}.
type Incoming struct {
	Text string `json:"text"`
}

// Event is everything the server sends, as JSON. Only the welcome carries
// the member list; join and leave are deltas (a room of N members costs N
// small events per join, not N lists of N names):
//
//	{"type":"welcome","room":"lobby","you":"ann","members":["ann","bob"],"history":[…]}
//	{"type":"message","room":"lobby","from":"bob","text":"hi","at":"…"}
//	{"type":"join","room":"lobby","from":"cy","at":"…"}
//	{"type":"leave","room":"lobby","from":"cy","at":"…"}
type Event struct {
	Type    string    `json:"type"`
	Room    string    `json:"room"`
	You     string    `json:"you,omitempty"`
	From    string    `json:"from,omitempty"`
	Text    string    `json:"text,omitempty"`
	Members []string  `json:"members,omitempty"`
	History []Event   `json:"history,omitempty"`
	At      time.Time `json:"at"`
}

// HistorySize is how many recent messages a newcomer is shown.
const HistorySize = 50

// Chat is the controller of ws://host/ws/:room?name=NAME. Everything it
// knows of a room is the hub's, so it works the same on one node or many
// (hub/redisbroker): who is there (presence, with the name as data), the
// recent messages (history), and the broadcasts.
type Chat struct {
	hub  *hub.Hub
	ping time.Duration
}

// NewChat returns a Chat on h, pinging its clients every ping. h must be
// made with HubConfig, for the room's join and leave events and history.
func NewChat(h *hub.Hub, ping time.Duration) *Chat {
	return &Chat{hub: h, ping: ping}
}

// HubConfig is the hub configuration the chat needs on top of cfg: the
// room's history, and presence events turned into join and leave events
// for the room's members.
func HubConfig(cfg hub.Config) hub.Config {
	cfg.HistorySize = HistorySize
	cfg.PresenceMessage = func(ev hub.PresenceEvent) (*fiberws.PreparedMessage, error) {
		kind := "leave"
		if ev.Joined {
			kind = "join"
		}
		return fiberws.Prepare(Event{Type: kind, Room: ev.Room, From: string(ev.Member.Data), At: time.Now().UTC()})
	}
	return cfg
}

// Prefix mounts the route at /ws.
func (*Chat) Prefix() string { return "/ws" }

// Routes declares the one chat route: JSON in (Incoming), JSON out
// (Event), the handler run once on connect, the name guard before the
// upgrade and the message interceptor before the handler.
func (c *Chat) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/:room", c.handle,
			fiberws.OnConnect(),
			fiberws.WithReadLimit(16<<10),
			// Finds clients that stopped reading, whatever their kernel
			// buffers: the pong cannot come before they read what is
			// queued ahead of the ping.
			fiberws.WithPing(c.ping),
			fiberws.WithGuards(hooks.GuardFunc(c.guard)),
			fiberws.WithInterceptors(trimMessages{}),
			fiberws.WithDoc(fiberws.Doc{
				Title:       "Chat room",
				Summary:     "Join :room as ?name; send {\"text\": …}, receive every member's messages and joins and leaves.",
				Description: "On connect the server sends the room's history and member list. A taken or invalid name is refused before the upgrade (409 or 400); /api/check says why.",
				Query:       []string{"name"},
			}),
		),
	}
}

// guard runs before the upgrade: a bad room or name gets a real HTTP
// response with the *fiber.Error's status and never becomes a WebSocket.
func (c *Chat) guard(ctx *fiber.Ctx) error {
	if err := c.checkJoin(ctx.UserContext(), ctx.Params("room"), ctx.Query("name")); err != nil {
		return err
	}
	return nil
}

// checkJoin is the guard's rule: 400 for a bad room or name, 409 for a
// name already used in the room (on any node: the hub's presence), 503
// when the presence cannot be read. Two clients taking one name at the
// same instant on two nodes can both pass.
func (c *Chat) checkJoin(ctx context.Context, room, name string) *fiber.Error {
	if !roomPattern.MatchString(room) {
		return fiber.NewError(fiber.StatusBadRequest, "room: 1 to 32 letters, digits, - or _")
	}
	name = strings.TrimSpace(name)
	// Valid UTF-8 only, without control or format characters: invalid
	// bytes would show as replacement characters and bidi overrides
	// reorder what follows, so two different names could look the same.
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxName || strings.ContainsFunc(name, invisible) {
		return fiber.NewError(fiber.StatusBadRequest, "name: 1 to 24 visible characters")
	}
	members, err := c.hub.Presence(ctx, room)
	if err != nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "the chat cannot check names right now")
	}
	for _, m := range members {
		if strings.EqualFold(string(m.Data), name) {
			return fiber.NewError(fiber.StatusConflict, "name already taken in this room")
		}
	}
	return nil
}

// invisible reports the characters a name must not contain: controls,
// format characters (bidi overrides, zero-width spaces…) but the
// zero-width joiner of emoji sequences, and the letters that show as
// blanks.
func invisible(r rune) bool {
	switch r {
	case '\u200d':
		return false
	case '\u115f', '\u1160', '\u2800', '\u3164', '\uffa0':
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// handle runs once on connect (msg == nil) and then for every message.
func (c *Chat) handle(ctx context.Context, conn *fiberws.Conn[*Event], msg *Incoming) (*Event, error) {
	room := conn.Params("room")
	name := strings.TrimSpace(conn.Query("name"))
	if msg == nil {
		return nil, c.join(ctx, conn, room, name)
	}
	// Everyone, the sender included, gets the message with the server's
	// timestamp; the hub keeps it in the room's history. A sender that
	// outruns the room waits here (the hub pushes back on it).
	ev := Event{Type: "message", Room: room, From: name, Text: msg.Text, At: time.Now().UTC()}
	return nil, hub.Broadcast(ctx, c.hub, room, ev)
}

// join joins the hub room with the name as presence data; the hub greets
// the newcomer first, with the member list and the recent messages as they
// are once it has joined, and tells the others (its join event,
// PresenceMessage). When the connection closes, whoever closes it, the hub
// tells the room that it left.
func (c *Chat) join(ctx context.Context, s fiberws.Receiver, room, name string) error {
	welcome := func(g hub.Greeting) (*fiberws.PreparedMessage, error) {
		ev := Event{Type: "welcome", Room: room, You: name, At: time.Now().UTC()}
		for _, m := range g.Members {
			ev.Members = append(ev.Members, string(m.Data))
		}
		slices.SortFunc(ev.Members, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		for _, env := range g.History {
			var past Event
			if json.Unmarshal(env.Data, &past) == nil && past.Type == "message" {
				ev.History = append(ev.History, past)
			}
		}
		return fiberws.Prepare(ev)
	}
	_, err := c.hub.Join(ctx, room, s, hub.WithPresence([]byte(name)), hub.WithGreeting(welcome))
	return err
}

// trimMessages is a pre-interceptor: it trims the text of each incoming
// message, cuts it to MaxMessage characters and drops empty ones, before
// the handler sees it. A payload that is not an Incoming is left alone for
// the decoder, which closes the connection with 1007.
type trimMessages struct{}

// Pre rewrites the message in place or drops it.
func (trimMessages) Pre(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
	if m.Connect {
		return nil
	}
	// Raw client bytes: checked by encoding/json first, since go-json
	// v0.10.5 can read past the end of some malformed input (fiberws's own
	// decoder does the same check).
	var in Incoming
	if !stdjson.Valid(m.Data) || json.Unmarshal(m.Data, &in) != nil {
		return nil
	}
	text := strings.TrimSpace(in.Text)
	if text == "" {
		return hooks.ErrDrop
	}
	if utf8.RuneCountInString(text) > MaxMessage {
		text = strings.TrimSpace(string([]rune(text)[:MaxMessage]))
	}
	data, err := json.Marshal(Incoming{Text: text})
	if err != nil {
		return err
	}
	m.Data = data
	return nil
}

// Post leaves outgoing messages alone.
func (trimMessages) Post(context.Context, hooks.Peer, *hooks.Message) error { return nil }
