package redisbroker

import (
	"context"
	"time"

	"github.com/fiberws/fiberws/hub"
	"github.com/redis/go-redis/v9"
)

// publishKept appends the envelope to the room's history, trims it to
// its last size, renews its TTL and publishes it, in one script: the
// history's order is the publish order. The channel is declared as a key
// so that on a Cluster the script runs on the room's slot.
var publishKept = redis.NewScript(`
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call(ARGV[4], KEYS[2], ARGV[1])
`)

// PublishKept publishes env to room and keeps it among the room's last
// size messages, the history expiring ttl after the last one.
func (b *Broker) PublishKept(ctx context.Context, room string, env hub.Envelope, size int, ttl time.Duration) error {
	payload, err := encode(env)
	if err != nil {
		return err
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	cmd := "PUBLISH"
	if b.cfg.Sharded {
		cmd = "SPUBLISH"
	}
	keys := []string{b.key(room, "h"), b.channel(room)}
	return publishKept.Run(ctx, b.client, keys, payload, size, ttl.Milliseconds(), cmd).Err()
}

// History returns the room's kept messages, oldest first.
func (b *Broker) History(ctx context.Context, room string) ([]hub.Envelope, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	raw, err := b.client.LRange(ctx, b.key(room, "h"), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	envs := make([]hub.Envelope, 0, len(raw))
	for _, r := range raw {
		env, err := decode(room, []byte(r))
		if err != nil {
			continue // not ours, or an older format: skip it
		}
		envs = append(envs, env)
	}
	return envs, nil
}
