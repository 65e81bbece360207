package redisbroker

import (
	"context"
	"time"

	"github.com/fiberws/fiberws/hub"
	"github.com/redis/go-redis/v9"
)

// publishKept gives the envelope the room's next Seq, appends it to the
// room's history, trims that to its last size, renews the TTLs and
// publishes it, in one script: the history's order is the publish order.
// A room's Seq starts from Redis' clock in microseconds whenever its
// counter is new (or expired with the history), so it only grows as long
// as a room publishes less than a message per microsecond. The channel is
// declared as a key so that on a Cluster the script runs on the room's
// slot.
var publishKept = redis.NewScript(`
local n = redis.call('INCR', KEYS[3])
local seq = string.format('%d', n) -- not tostring: that writes 1.7e+15
if n == 1 then
  local t = redis.call('TIME')
  seq = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', KEYS[3], seq)
end
local msg = seq .. ':' .. ARGV[1]
redis.call('RPUSH', KEYS[1], msg)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return redis.call(ARGV[4], KEYS[2], msg)
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
	keys := []string{b.key(room, "h"), b.channel(room), b.key(room, "s")}
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
