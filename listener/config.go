package listener

import (
	"log/slog"
	"time"
)

// Config holds the settings of a Listener. Zero fields take the values of
// ConfigDefault.
type Config struct {
	// MaxDelay is the longest wait between two accepts after temporary
	// errors; the wait starts at 5ms and doubles. Default 1s.
	MaxDelay time.Duration
	// Logger receives one warning per burst of accept errors (at most one
	// a second). Default slog.Default().
	Logger *slog.Logger
}

// ConfigDefault is the configuration used for every zero field of Config.
var ConfigDefault = Config{
	MaxDelay: time.Second,
}

func configDefault(config ...Config) Config {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = ConfigDefault.MaxDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = ConfigDefault.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}
