package redisbroker

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config holds the settings of a Broker. Zero fields take the values of
// ConfigDefault.
type Config struct {
	// Client is the Redis connection to use: a *redis.Client, a
	// Sentinel-backed failover client or a *redis.ClusterClient (anything
	// redis.NewUniversalClient returns). The Broker does not close it.
	Client redis.UniversalClient
	// URL is used when Client is nil: a redis:// or rediss:// URL
	// (redis.ParseURL). The Broker then owns the client and closes it.
	// Default "redis://127.0.0.1:6379/0".
	URL string
	// Prefix starts every key and channel name. Default "fiberws:".
	Prefix string
	// Sharded uses Redis 7's sharded pub/sub (SPUBLISH, SSUBSCRIBE): on a
	// Cluster, a room's messages then travel within its shard instead of
	// to every node of the cluster. Each room takes a subscription
	// connection of its own. Default off.
	Sharded bool
	// Timeout bounds each Redis call made with a context that has no
	// sooner deadline (a Publish, a presence update). Default 2s.
	Timeout time.Duration
	// HealthCheck is how often the subscription connection is pinged:
	// after Redis comes back, subscriptions are restored within about it.
	// Default 1s.
	HealthCheck time.Duration
	// Logger receives envelopes that do not decode and subscription
	// errors. Default slog.Default().
	Logger *slog.Logger
}

// ConfigDefault is the configuration used for every zero field of Config.
var ConfigDefault = Config{
	URL:         "redis://127.0.0.1:6379/0",
	Prefix:      "fiberws:",
	Timeout:     2 * time.Second,
	HealthCheck: time.Second,
}

func configDefault(config ...Config) Config {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	d := ConfigDefault
	if cfg.URL == "" {
		cfg.URL = d.URL
	}
	if cfg.Prefix == "" {
		cfg.Prefix = d.Prefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.HealthCheck <= 0 {
		cfg.HealthCheck = d.HealthCheck
	}
	if cfg.Logger == nil {
		cfg.Logger = d.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}
