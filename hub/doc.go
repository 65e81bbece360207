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
//			if _, err := h.Join(room, c); err != nil {
//				return nil, err
//			}
//			return nil, hub.Send(h, c, "welcome")
//		}
//		return nil, hub.Broadcast(h, room, *msg, c)
//	}, fiberws.OnConnect())
//
// To send to one member in order with its broadcasts (a welcome right
// after Join, as above), use Send or SendTo rather than Conn.Send or a
// handler result, which write directly and may overtake or trail queued
// broadcasts.
//
// # Slow clients
//
// A client that stops reading does not hold up the others for more than
// about a millisecond. Every member has a bounded outgoing queue
// (Config.QueueSize); Broadcast only appends to the queues and never waits
// for a socket. The members a broadcast wakes up are written one after the
// other by one goroutine (so a broadcast to N members does not cost N
// goroutines, and an idle member costs none); when one member's write takes
// longer than a millisecond, another goroutine goes on with the members
// after it, so a stuck socket delays nobody else by more than that.
//
// When a member's queue is full, the member is dropped: the connection is
// closed with 1008 (policy violation) and reason "slow consumer"
// (fiberws.Session.CloseSlowConsumer), and the hub sends it nothing more.
// A single write that takes longer than the connection's write timeout
// (fiberws.Config.WriteTimeout) also ends the connection: fiberws then drops
// the TCP connection at once (observers see 1006), since a peer that cannot
// take a data frame cannot take a close frame either. Either way the
// member leaves its rooms when the connection's cleanups run.
//
// # Brokers
//
// Broadcasts go through a Broker, which carries them to every Hub that
// subscribed to the room. The default, NewMemoryBroker, is in-process. A
// multi-node broker (Redis pub/sub, NATS…) implements the same two-method
// interface and is set in Config.Broker; code that uses the Hub does not
// change.
package hub
