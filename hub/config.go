package hub

import (
	"time"

	"github.com/fiberws/fiberws"
)

// Config holds the settings of a Hub. Zero fields take the values of
// ConfigDefault.
type Config struct {
	// QueueBytes is what one member's outgoing queue may hold, in bytes
	// of memory (a queued message counts twice its payload, encoded and
	// framed, plus 512 bytes of bookkeeping; a message queued for many
	// members is held once, but counts for each).
	// Publishers are held back while a member that keeps reading holds
	// more than half of it (see Hub.BroadcastPrepared); a member whose queue would
	// exceed it is not keeping up and is dropped with close code 1008
	// "slow consumer". Default 1 MiB.
	QueueBytes int64
	// MinReadRate is the slowest a member may take its messages, in bytes
	// per second, and still hold publishers back: a member whose writer
	// makes no progress for 250ms plus the time its write in progress takes
	// at this rate is not draining; publishers stop waiting for it, and it
	// either catches up or is dropped when its queue would exceed
	// QueueBytes. Default 256 KiB/s.
	MinReadRate int64
	// Broker carries broadcasts to the hubs subscribed to a room. Default:
	// a new in-memory broker (NewMemoryBroker), private to this Hub. Share
	// one broker between hubs, or use a multi-node one, to broadcast across
	// hubs.
	Broker Broker
	// Presence keeps who is in which room across nodes (WithPresence).
	// Default: the Broker, when it implements Presence (MemoryBroker and
	// hub/redisbroker do), else an in-memory one private to this Hub.
	Presence Presence
	// PresenceTTL is how long a member's presence lasts without a refresh:
	// the hub refreshes its own every third of it, so the members of a
	// node that dies without saying goodbye are gone, and their leave
	// announced, within about it. Default 30s.
	PresenceTTL time.Duration
	// OnPresence, when set, is called on every hub with members in the
	// room, for every join and leave of a member that joined WithPresence,
	// on any node. It runs on the broker's delivery goroutine: keep it
	// quick and do not call the hub from it.
	OnPresence func(PresenceEvent)
	// PresenceMessage, when set, turns each presence event into a message
	// that the hub sends to its members of the room (but the member the
	// event is about): the chat's "ann joined". A nil message sends
	// nothing.
	PresenceMessage func(PresenceEvent) (*fiberws.PreparedMessage, error)
	// HistorySize is how many of a room's last messages to keep (0: none),
	// for WithGreeting and Hub.History. Default 0.
	HistorySize int
	// History keeps them. Default: the Broker, when it implements History
	// (MemoryBroker and hub/redisbroker do), else an in-memory one.
	History History
	// HistoryTTL is how long a room's history lasts after its last
	// message. Default 24h.
	HistoryTTL time.Duration
	// BrokerTimeout bounds the broker calls the hub makes on its own,
	// without a caller's context: cancelling a room's subscription when its
	// last member leaves, and on Close. Default 5s.
	BrokerTimeout time.Duration
}

// ConfigDefault is the configuration used for every zero field of Config.
var ConfigDefault = Config{
	QueueBytes:    1 << 20,
	MinReadRate:   256 << 10,
	PresenceTTL:   30 * time.Second,
	HistoryTTL:    24 * time.Hour,
	BrokerTimeout: 5 * time.Second,
}

func configDefault(config ...Config) Config {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = ConfigDefault.QueueBytes
	}
	if cfg.MinReadRate <= 0 {
		cfg.MinReadRate = ConfigDefault.MinReadRate
	}
	if cfg.BrokerTimeout <= 0 {
		cfg.BrokerTimeout = ConfigDefault.BrokerTimeout
	}
	if cfg.Broker == nil {
		cfg.Broker = ConfigDefault.Broker
	}
	if cfg.Broker == nil {
		cfg.Broker = NewMemoryBroker()
	}
	if cfg.PresenceTTL <= 0 {
		cfg.PresenceTTL = ConfigDefault.PresenceTTL
	}
	if cfg.HistoryTTL <= 0 {
		cfg.HistoryTTL = ConfigDefault.HistoryTTL
	}
	if cfg.Presence == nil {
		cfg.Presence, _ = cfg.Broker.(Presence)
	}
	if cfg.Presence == nil {
		cfg.Presence = &memoryPresence{}
	}
	if cfg.History == nil {
		cfg.History, _ = cfg.Broker.(History)
	}
	if cfg.History == nil {
		cfg.History = &separateHistory{broker: cfg.Broker}
	}
	return cfg
}
