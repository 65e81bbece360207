package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
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

// historySize is how many recent messages a newcomer is shown.
const historySize = 50

// Chat is the controller of ws://host/ws/:room?name=NAME. It keeps who is
// in which room (for the member list) and the recent messages of each
// room; the hub does the broadcasting.
type Chat struct {
	hub  *hub.Hub
	ping time.Duration

	mu    sync.Mutex // guards rooms
	rooms map[string]*roomState
}

// roomState is one room's members and history. Its mu orders the room's
// events (joins, messages, leaves): each is recorded and published under
// it, so every member sees them in the order the history has them. A
// publisher that outruns the room waits under it (the hub pushes back),
// which holds up that room only.
type roomState struct {
	mu      sync.Mutex
	names   map[uint64]string // by connection ID
	history []Event
	gone    bool // emptied and dropped from Chat.rooms
}

// NewChat returns a Chat broadcasting through h, pinging its clients
// every ping.
func NewChat(h *hub.Hub, ping time.Duration) *Chat {
	return &Chat{hub: h, ping: ping, rooms: map[string]*roomState{}}
}

// lockRoom returns the room's state, created if needed, with its lock held.
func (c *Chat) lockRoom(room string) *roomState {
	for {
		c.mu.Lock()
		r := c.rooms[room]
		if r == nil {
			r = &roomState{names: map[uint64]string{}}
			c.rooms[room] = r
		}
		c.mu.Unlock()
		r.mu.Lock()
		if !r.gone {
			return r
		}
		r.mu.Unlock() // emptied meanwhile: take the new one
	}
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
			fiberws.WithGuards(fiberws.GuardFunc(c.guard)),
			fiberws.WithInterceptors(trimMessages{}),
		),
	}
}

// guard runs before the upgrade: a bad room or name gets a real HTTP
// response with the *fiber.Error's status and never becomes a WebSocket.
func (c *Chat) guard(ctx *fiber.Ctx) error {
	if err := c.checkJoin(ctx.Params("room"), ctx.Query("name")); err != nil {
		return err
	}
	return nil
}

// checkJoin is the guard's rule: 400 for a bad room or name, 409 for a
// name already used in the room.
func (c *Chat) checkJoin(room, name string) *fiber.Error {
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
	c.mu.Lock()
	r := c.rooms[room]
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.names {
		if strings.EqualFold(n, name) {
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
	ev := Event{Type: "message", Room: room, From: name, Text: msg.Text, At: time.Now().UTC()}
	r := c.lockRoom(room)
	defer r.mu.Unlock()
	r.history = append(r.history, ev)
	if len(r.history) > historySize {
		r.history = slices.Delete(r.history, 0, len(r.history)-historySize)
	}
	// Everyone, the sender included, gets the message with the server's
	// timestamp.
	return nil, hub.Broadcast(ctx, c.hub, room, ev)
}

// join joins the hub room, greets the newcomer with the member list and
// recent history, and tells the others. Its cleanup (when the connection
// closes, whoever closes it) tells the room that it left.
func (c *Chat) join(ctx context.Context, s fiberws.Receiver, room, name string) error {
	r := c.lockRoom(room)
	defer r.mu.Unlock()
	if _, err := c.hub.Join(ctx, room, s); err != nil {
		c.dropIfEmpty(room, r)
		return err
	}
	r.names[s.ID()] = name
	// Cleanups run after the handler returns, last registered first: this
	// one before the hub's own leave.
	s.Cleanup(func() { c.leave(s, room, name) })
	now := time.Now().UTC()
	// Queued through the hub, not sent directly, so the welcome comes
	// before any room event published after this join.
	welcome := Event{Type: "welcome", Room: room, You: name, Members: r.memberNames(), History: slices.Clone(r.history), At: now}
	if err := hub.Send(ctx, c.hub, s, welcome); err != nil {
		return err
	}
	return hub.Broadcast(ctx, c.hub, room, Event{Type: "join", Room: room, From: name, At: now}, s)
}

// leave runs as the connection's cleanup: its context is done, so the
// broadcast gets a bounded one of its own.
func (c *Chat) leave(s fiberws.Receiver, room, name string) {
	r := c.lockRoom(room)
	defer r.mu.Unlock()
	delete(r.names, s.ID())
	if c.dropIfEmpty(room, r) {
		return // the history goes with the last member
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	_ = hub.Broadcast(ctx, c.hub, room, Event{Type: "leave", Room: room, From: name, At: time.Now().UTC()}, s)
}

// dropIfEmpty forgets a room without members; call with r.mu held.
func (c *Chat) dropIfEmpty(room string, r *roomState) bool {
	if len(r.names) > 0 {
		return false
	}
	r.gone = true
	c.mu.Lock()
	if c.rooms[room] == r {
		delete(c.rooms, room)
	}
	c.mu.Unlock()
	return true
}

// leaveTimeout bounds the leave broadcast of a closed connection.
const leaveTimeout = time.Second

// memberNames is the sorted member list; call with r.mu held.
func (r *roomState) memberNames() []string {
	names := make([]string, 0, len(r.names))
	for _, n := range r.names {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return names
}

// trimMessages is a pre-interceptor: it trims the text of each incoming
// message, cuts it to MaxMessage characters and drops empty ones, before
// the handler sees it. A payload that is not an Incoming is left alone for
// the decoder, which closes the connection with 1007.
type trimMessages struct{}

// Pre rewrites the message in place or drops it.
func (trimMessages) Pre(_ context.Context, _ hooks.Conn, m *hooks.Message) error {
	if m.Connect {
		return nil
	}
	var in Incoming
	if err := json.Unmarshal(m.Data, &in); err != nil {
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
func (trimMessages) Post(context.Context, hooks.Conn, *hooks.Message) error { return nil }
