// Package hub broadcasts messages to rooms of fiberws connections.
//
// A Hub keeps rooms of connections: any *fiberws.Conn[T] (a
// fiberws.Receiver; a receive-only route's connection cannot join). A
// connection joins a room with Join (and leaves it with the returned func,
// or by itself when it closes); Broadcast encodes a value once and delivers
// it to every member of a room, optionally except some (usually the
// sender):
//
//	h := hub.New()
//
//	fiberws.WebSocket("/chat/:room", func(ctx context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
//		room := c.Params("room")
//		if msg == nil { // on-connect trigger; leaving is automatic on close
//			if _, err := h.Join(ctx, room, c); err != nil {
//				return nil, err
//			}
//			return nil, hub.Send(ctx, h, c, "welcome")
//		}
//		return nil, hub.Broadcast(ctx, h, room, *msg, c)
//	}, fiberws.OnConnect())
//
// To send to one member in order with its broadcasts (a welcome right
// after Join, as above), use Send or SendPrepared rather than Conn.Send or a
// handler result, which write directly and may overtake or trail queued
// broadcasts.
//
// # Order
//
// Each member receives the messages queued for it (broadcasts and Send) in
// the order they were queued, and all members of a room on a hub receive
// the room's broadcasts in one order: the order the broker delivers them
// in, which for one publisher is its publish order.
//
// # Bursts and slow clients
//
// Every member has an outgoing queue bounded in bytes (Config.QueueBytes,
// 1 MiB by default; a message counts about what it holds in memory), not in
// messages. Broadcast only appends to the queues and never waits for a
// socket. The members a broadcast wakes up are written one after the other
// by one goroutine (so a broadcast to N members does not cost N
// goroutines, and an idle member costs none); when one member's write takes
// longer than a millisecond, another goroutine goes on with the members
// after it, so a stuck socket delays nobody else by more than that.
//
// A burst is not a slow client. When a publisher outruns its room (one
// client sending thousands of messages, a replay, presence events in a
// reconnect storm), the queues of members that keep reading grow. So each
// publisher, after queueing its message, waits while a member it reached
// holds more than half its budget, until it is down to a quarter, or until
// the publisher's context is done; on an in-process broker a hub's
// publishers of a room also take turns, so that a burst of them cannot
// overflow a member at once.
// The publisher is held back, not its readers: from a handler, the wait
// pauses that connection's reading, and TCP pushes back on the sending
// client. Send and SendPrepared wait the same way, so a replay to one member in a
// loop is held back too. The members of other hubs of the process (on a
// shared MemoryBroker) count; members on other nodes, reached through a
// networked broker, cannot push back across the network: their own queues
// bound them.
//
// Publishers wait only for members that are draining: a member whose
// writer has made no progress for 250ms, plus the time its write in
// progress takes at Config.MinReadRate (256 KiB/s), is not; it may still
// catch up. A member is a slow consumer, and is dropped with close code
// 1008 "slow consumer", when
//
//   - its queue would exceed the budget. The drop is immediate: its write
//     in progress cannot finish, so TCP is dropped at once
//     (fiberws.Session.CloseSlowConsumer), and its queue is discarded;
//   - or one write to it makes no progress for the connection's write
//     timeout (fiberws.Config.WriteTimeout), in a room too quiet to fill
//     the budget. TCP is dropped then too.
//
// Either way observers see 1008 "slow consumer", the hub sends it nothing
// more and the member leaves its rooms when the connection's cleanups run.
// A healthy member's queue is never discarded. What the server holds for a
// member that stopped reading is its kernel socket buffers (a few MiB on
// Linux) plus at most the budget.
//
// # Presence and history
//
// A member that joins WithPresence(data) is listed, with its data (a user
// name), by Presence on every node; its join and leave are presence
// events, delivered to every hub with members in the room: Config.OnPresence
// hears of them, and Config.PresenceMessage turns each into a message for
// the room's members (the chat's "ann joined"). The hub refreshes its
// members' presence every third of Config.PresenceTTL (30s); the members of
// a node that dies without saying goodbye expire after it, and their leave
// is announced. With Config.HistorySize, the hub keeps each room's last
// messages; a member joining WithGreeting(build) is first sent build's
// message, made from the room's presence and history as they are once it
// has joined: no message of the room comes before it, and none of its
// history (nor any older message) comes after it: the History numbers each
// room's messages (Envelope.Seq), and the greeted member drops the ones up
// to the history's last that are still on their way. Hub.Close removes
// its members' presence, announcing their leave.
//
// # Brokers
//
// Broadcasts go through a Broker, which carries them to every Hub that
// subscribed to the room. The default, NewMemoryBroker, is in-process (and
// is also the Presence and History). hub/redisbroker runs hubs on many
// nodes through Redis (docs/SCALING.md); another multi-node broker (NATS…)
// implements the same two-method interface, and Presence and History if it
// keeps them, and is set in Config.Broker; code that uses the Hub does not
// change. An Envelope is plain data (message type and
// payload, the publishing hub, the broadcast's ID and history Seq, members
// to skip by an ID unique across nodes), so a networked broker ships it as
// it is. The hub subscribes to a
// room when its first local member joins and cancels when the last one
// leaves, never with two subscriptions of one room at a time, and never
// while holding its own lock: a slow network stalls only the Join that
// waits for it.
package hub
