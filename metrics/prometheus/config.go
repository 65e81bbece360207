package prometheus

import prom "github.com/prometheus/client_golang/prometheus"

// Config configures the metrics.
type Config struct {
	// Registerer is where the metrics are registered.
	// Optional. Default: prometheus.DefaultRegisterer
	Registerer prom.Registerer
	// HandlerBuckets are the buckets of fiberws_handler_duration_seconds.
	// Optional. Default: 50µs to 10s (DefaultHandlerBuckets)
	HandlerBuckets []float64
	// ConnectionBuckets are the buckets of
	// fiberws_connection_duration_seconds.
	// Optional. Default: 1s to 24h (DefaultConnectionBuckets)
	ConnectionBuckets []float64
}

// DefaultHandlerBuckets spans a handler's time for one message: from a
// fast in-memory reply to a slow call out.
var DefaultHandlerBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// DefaultConnectionBuckets spans a connection's life: from a refused or
// dropped client to a tab left open all day.
var DefaultConnectionBuckets = []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600}

// ConfigDefault is the default configuration.
var ConfigDefault = Config{
	HandlerBuckets:    DefaultHandlerBuckets,
	ConnectionBuckets: DefaultConnectionBuckets,
}

func configDefault(config ...Config) Config {
	cfg := ConfigDefault
	if len(config) > 0 {
		cfg = config[0]
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prom.DefaultRegisterer
	}
	if len(cfg.HandlerBuckets) == 0 {
		cfg.HandlerBuckets = DefaultHandlerBuckets
	}
	if len(cfg.ConnectionBuckets) == 0 {
		cfg.ConnectionBuckets = DefaultConnectionBuckets
	}
	return cfg
}
