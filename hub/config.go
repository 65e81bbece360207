package hub

import "time"

// Config holds the settings of a Hub. Zero fields take the values of
// ConfigDefault.
type Config struct {
	// QueueBytes is what one member's outgoing queue may hold, in bytes
	// of memory (a queued message counts twice its payload, encoded and
	// framed, plus 512 bytes of bookkeeping; a message queued for many
	// members is held once, but counts for each).
	// Publishers are held back while a member that keeps reading holds
	// more than half of it (see Hub.Publish); a member whose queue would
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
	// BrokerTimeout bounds the broker calls the hub makes on its own,
	// without a caller's context: cancelling a room's subscription when its
	// last member leaves, and on Close. Default 5s.
	BrokerTimeout time.Duration
}

// ConfigDefault is the configuration used for every zero field of Config.
var ConfigDefault = Config{
	QueueBytes:    1 << 20,
	MinReadRate:   256 << 10,
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
	return cfg
}
