package redisbroker

import (
	"context"
	"time"

	"github.com/fiberws/fiberws/hub"
	"github.com/redis/go-redis/v9"
)

// A room's presence is a hash (member ID -> encoded member) and a sorted
// set (member ID -> expiry, in ms of Redis's own clock, so the nodes'
// clocks do not matter). The scripts keep the two together.

var addPresence = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return added
`)

// refreshPresence extends the expiry of the given members that are still
// there (ZADD XX never adds) and returns the IDs of those that are not.
var refreshPresence = redis.NewScript(`
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local missing = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    redis.call('ZADD', KEYS[2], 'XX', expires, ARGV[i])
  else
    table.insert(missing, ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return missing
`)

var removePresence = redis.NewScript(`
local removed = redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return removed
`)

// listPresence returns the live members and removes (and returns) the
// expired ones: each expired member is returned to one caller only.
var listPresence = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  if redis.call('ZREM', KEYS[2], id) == 1 then
    local data = redis.call('HGET', KEYS[1], id)
    redis.call('HDEL', KEYS[1], id)
    if data then table.insert(expired, data) end
  end
end
local members = {}
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
-- HMGET in chunks: unpack has a limit of a few thousand values.
for i = 1, #live, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #live) do chunk[#chunk + 1] = live[j] end
  for _, data in ipairs(redis.call('HMGET', KEYS[1], unpack(chunk))) do
    if data then table.insert(members, data) end
  end
end
return {members, expired}
`)

func (b *Broker) presenceKeys(room string) []string {
	return []string{b.key(room, "p"), b.key(room, "e")}
}

// AddPresence records m in room until ttl from now, or refreshes it.
func (b *Broker) AddPresence(ctx context.Context, room string, m hub.Member, ttl time.Duration) (bool, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	n, err := addPresence.Run(ctx, b.client, b.presenceKeys(room), m.ID, appendMember(nil, m), ttl.Milliseconds(), 2*ttl.Milliseconds()).Int()
	return n == 1, err
}

// RefreshPresence extends the TTL of those of members still in room, in
// one script, and returns the others.
func (b *Broker) RefreshPresence(ctx context.Context, room string, members []hub.Member, ttl time.Duration) ([]hub.Member, error) {
	if len(members) == 0 {
		return nil, nil
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	args := make([]any, 0, 2+len(members))
	args = append(args, ttl.Milliseconds(), 2*ttl.Milliseconds())
	byID := make(map[string]hub.Member, len(members))
	for _, m := range members {
		args = append(args, m.ID)
		byID[m.ID] = m
	}
	ids, err := refreshPresence.Run(ctx, b.client, b.presenceKeys(room), args...).StringSlice()
	if err != nil {
		return nil, err
	}
	missing := make([]hub.Member, 0, len(ids))
	for _, id := range ids {
		missing = append(missing, byID[id])
	}
	return missing, nil
}

// RemovePresence removes the member from room.
func (b *Broker) RemovePresence(ctx context.Context, room, memberID string) (bool, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	n, err := removePresence.Run(ctx, b.client, b.presenceKeys(room), memberID).Int()
	return n == 1, err
}

// Presence lists the live members of room, and removes and returns the
// expired ones.
func (b *Broker) Presence(ctx context.Context, room string) (members, expired []hub.Member, err error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	res, err := listPresence.Run(ctx, b.client, b.presenceKeys(room)).Slice()
	if err != nil {
		return nil, nil, err
	}
	parse := func(v any) []hub.Member {
		list, _ := v.([]any)
		out := make([]hub.Member, 0, len(list))
		for _, item := range list {
			if s, ok := item.(string); ok {
				if m, err := decodeMember([]byte(s)); err == nil {
					out = append(out, m)
				}
			}
		}
		return out
	}
	if len(res) == 2 {
		members, expired = parse(res[0]), parse(res[1])
	}
	return members, expired, nil
}
