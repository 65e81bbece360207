package hub

// Config holds the settings of a Hub. Zero fields take the values of
// ConfigDefault.
type Config struct {
	// QueueSize is how many messages may wait for one member while its
	// writer is busy. When a broadcast finds the queue full, the member is
	// dropped with close code 1008 "slow consumer". Default 64.
	QueueSize int
	// Broker carries broadcasts to the hubs subscribed to a room. Default:
	// a new in-memory broker (NewMemoryBroker), private to this Hub. Share
	// one broker between hubs, or use a multi-node one, to broadcast across
	// hubs.
	Broker Broker
}

// ConfigDefault is the configuration used for every zero field of Config.
var ConfigDefault = Config{
	QueueSize: 64,
}

func configDefault(config ...Config) Config {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = ConfigDefault.QueueSize
	}
	if cfg.Broker == nil {
		cfg.Broker = ConfigDefault.Broker
	}
	if cfg.Broker == nil {
		cfg.Broker = NewMemoryBroker()
	}
	return cfg
}
