package cache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// Sessions implements backend.RefreshTokenStore in Redis. A family is a hash
// {user, cur, prev, prev_at, prev_used, revoked} plus a set of every token
// hash it ever issued (to tell a replay from a forgery), both living the
// refresh TTL from the sign-in: a rotation keeps what is left, so a session
// ends 30 days after its password was given however often it refreshes
// (one stolen cannot be kept alive for good). The "{family}" hash tag
// keeps a family's keys in one cluster slot, as the script needs. Each user
// has a list of their families, by when each was last used (signed in
// or refreshed), through which RevokeUser finds them and CreateFamily
// ends those unused longest beyond MaxUserSessions.
type Sessions struct {
	c *Cache
	// Now, when set, is the clock the grace window is measured by, instead
	// of Redis's own (TIME), which every instance agrees on, and the one
	// that orders a user's families: a seam for tests, which move it
	// rather than wait out the window.
	Now func() time.Time
}

// MaxUserSessions is how many live sessions a user may have: a sign-in
// beyond it ends the one unused longest (a refresh counts as use).
// Every sign-in keeps keys in Redis for the refresh TTL (30 days), and a
// password change or a disable ends all of a user's sessions within one
// request's deadline, so neither may grow without bound. A hundred is
// far more than one person's devices: the console signs in anew in every
// browser tab and start, and an inspector's phone, offline at a mine for
// a week, must not be ended by them — its sign-out clears whatever it has
// not sent.
const MaxUserSessions = 100

// familyStartSlack is how long after it was listed a family may still be
// missing because its sign-in is creating it; after that a listed family
// that is missing has expired.
const familyStartSlack = time.Minute

// Sessions returns the refresh-token family store.
func (c *Cache) Sessions() *Sessions { return &Sessions{c: c} }

var _ backend.RefreshTokenStore = (*Sessions)(nil)

func (s *Sessions) familyKey(familyID string) string { return s.c.Key("session", "{"+familyID+"}") }
func (s *Sessions) seenKey(familyID string) string {
	return s.c.Key("session", "{"+familyID+"}", "seen")
}

// userKey is a user's families: a sorted set scored by when each was last
// used, signed in or refreshed (ms since the epoch).
func (s *Sessions) userKey(userID string) string { return s.c.Key("session", "families", userID) }

// legacyUserKey is the unordered set that listed a user's families before
// they were ordered. RevokeUser still reads it, so that a family listed
// there before an upgrade is ended too; it expires a refresh TTL after the
// last sign-in before the upgrade, and the read can go after that.
func (s *Sessions) legacyUserKey(userID string) string { return s.c.Key("session", "user", userID) }

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CreateFamily implements backend.RefreshTokenStore. When the user then
// has more than MaxUserSessions live families, the oldest are revoked.
func (s *Sessions) CreateFamily(ctx context.Context, familyID, userID, tokenHash string, ttl time.Duration) error {
	fam, seen, user := s.familyKey(familyID), s.seenKey(familyID), s.userKey(userID)
	// The user's list of families first: a family missing from it could
	// not be revoked by RevokeUser. Two transactions, since the family's
	// keys and the user's list live in different Cluster slots.
	var listed *redis.IntCmd
	_, err := s.c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, user, redis.Z{Score: float64(s.now().UnixMilli()), Member: familyID})
		p.PExpire(ctx, user, ttl)
		listed = p.ZCard(ctx, user)
		return nil
	})
	if err != nil {
		return translate(err)
	}
	_, err = s.c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, fam, "user", userID, "cur", tokenHash, "prev", "", "prev_at", 0, "prev_used", 1, "revoked", 0)
		p.PExpire(ctx, fam, ttl)
		p.SAdd(ctx, seen, tokenHash)
		p.PExpire(ctx, seen, ttl)
		return nil
	})
	if err != nil {
		return translate(err)
	}
	if listed.Val() <= MaxUserSessions {
		return nil // nothing to look at: the list holds the live families and more
	}
	return s.trim(ctx, userID)
}

// trim revokes the user's oldest live families beyond MaxUserSessions and
// drops from the list the families that are revoked or expired, so that
// the list, and RevokeUser's work, stays about MaxUserSessions long. The
// families live in different Cluster slots, so this is no script: two
// sign-ins trimming at once agree on which are oldest and revoke them
// twice, which is harmless.
func (s *Sessions) trim(ctx context.Context, userID string) error {
	user := s.userKey(userID)
	listed, err := s.c.client.ZRangeWithScores(ctx, user, 0, -1).Result() // oldest first
	if err != nil {
		return translate(err)
	}
	states := make([]*redis.StringCmd, len(listed))
	_, err = s.c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range listed {
			states[i] = p.HGet(ctx, s.familyKey(z.Member.(string)), "revoked")
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return translate(err)
	}
	starting := float64(s.now().Add(-familyStartSlack).UnixMilli())
	var drop []any // revoked or expired: nothing to end, nothing to find again
	type family struct {
		id      string
		created bool // false: its sign-in is creating it
	}
	var live []family // oldest first
	for i, z := range listed {
		id := z.Member.(string)
		revoked, err := states[i].Result()
		switch {
		case err == redis.Nil && z.Score < starting:
			drop = append(drop, id)
		case err == redis.Nil:
			live = append(live, family{id: id})
		case err != nil:
			return translate(err)
		case revoked == "1":
			drop = append(drop, id)
		default:
			live = append(live, family{id: id, created: true})
		}
	}
	var ended []string
	for _, f := range live[:max(0, len(live)-MaxUserSessions)] {
		// One still being created cannot be revoked yet (the script
		// leaves a missing family alone) and stays listed, or RevokeUser
		// could not find it: only more than MaxUserSessions sign-ins at
		// once leave one over, until the next sign-in.
		if f.created {
			ended = append(ended, f.id)
		}
	}
	if err := s.revokeFamilies(ctx, ended); err != nil {
		return err
	}
	for _, f := range ended {
		drop = append(drop, f)
		if err := s.c.invalidate(ctx, "f:"+f); err != nil {
			return err
		}
	}
	if len(drop) == 0 {
		return nil
	}
	return translate(s.c.client.ZRem(ctx, user, drop...).Err())
}

// revokeFamilies revokes families in one round trip (a pipeline, which a
// Cluster client splits by slot).
func (s *Sessions) revokeFamilies(ctx context.Context, families []string) error {
	if len(families) == 0 {
		return nil
	}
	_, err := s.c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, f := range families {
			// Eval, not Run: in a pipeline a missing script is seen only
			// once it has run, too late to send it.
			revokeScript.Eval(ctx, p, []string{s.familyKey(f)})
		}
		return nil
	})
	return translate(err)
}

// rotateScript decides a refresh atomically, so two requests presenting the
// same token at once cannot both win. Server time (TIME) is used so that all
// instances agree on the grace window.
//
// KEYS: family, seen. ARGV: presented hash, next hash, grace ms, ttl ms,
// and optionally now (ms since the epoch; Redis TIME when absent).
// Returns {outcome, user}.
var rotateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'invalid', ''} end
local f = redis.call('HMGET', KEYS[1], 'user', 'cur', 'prev', 'prev_at', 'prev_used', 'revoked')
local user, cur, prev, prev_at, prev_used, revoked = f[1], f[2], f[3], tonumber(f[4]), f[5], f[6]
if revoked == '1' then return {'invalid', user} end
local now = tonumber(ARGV[5])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function issue()
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
if ARGV[1] == cur then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', cur, 'prev_at', now, 'prev_used', '0')
  issue()
  return {'ok', user}
end
if ARGV[1] == prev and prev_used == '0' and now - prev_at <= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev_used', '1')
  issue()
  return {'grace', user}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return {'replay', user}
end
return {'invalid', user}
`)

// Rotate implements backend.RefreshTokenStore.
func (s *Sessions) Rotate(ctx context.Context, familyID, presented, next string, grace time.Duration) (string, string, error) {
	ttl, err := s.c.client.PTTL(ctx, s.familyKey(familyID)).Result()
	if err != nil {
		return "", "", translate(err)
	}
	if ttl < time.Minute {
		ttl = time.Minute // the script sees the family gone or about to go; keep the arithmetic sane
	}
	args := []any{presented, next, grace.Milliseconds(), ttl.Milliseconds()}
	if s.Now != nil {
		args = append(args, s.Now().UnixMilli())
	}
	res, err := rotateScript.Run(ctx, s.c.client,
		[]string{s.familyKey(familyID), s.seenKey(familyID)}, args...).StringSlice()
	if err != nil {
		return "", "", translate(err)
	}
	switch res[0] {
	case backend.RotateReplay: // the script revoked the family
		if err := s.c.invalidate(ctx, "f:"+familyID); err != nil {
			return "", "", err
		}
	case backend.RotateOK, backend.RotateGrace:
		// In use: it goes to the back of the user's list, so that the cap
		// ends the sessions left unused longest (a console tab closed long
		// ago), never the phone the inspector refreshes every day. XX: a
		// family trimmed meanwhile is not listed again. A failure here
		// costs only the order.
		_ = s.c.client.ZAddXX(ctx, s.userKey(res[1]), redis.Z{Score: float64(s.now().UnixMilli()), Member: familyID}).Err()
	}
	return res[0], res[1], nil
}

// revokeScript marks a family revoked only if it still exists, so a family
// that just expired is not brought back without a TTL.
var revokeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'revoked', '1') end
return 0
`)

// RevokeFamily implements backend.RefreshTokenStore. The revoked family is
// kept until it expires so that its tokens are still recognised (and refused).
func (s *Sessions) RevokeFamily(ctx context.Context, familyID string) error {
	if err := revokeScript.Run(ctx, s.c.client, []string{s.familyKey(familyID)}).Err(); err != nil {
		return translate(err)
	}
	return s.c.invalidate(ctx, "f:"+familyID)
}

// RevokeUser implements backend.RefreshTokenStore: every family listed for
// the user, in one round trip.
func (s *Sessions) RevokeUser(ctx context.Context, userID string) error {
	var listed, legacy *redis.StringSliceCmd
	_, err := s.c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		listed = p.ZRange(ctx, s.userKey(userID), 0, -1)
		legacy = p.SMembers(ctx, s.legacyUserKey(userID))
		return nil
	})
	if err != nil {
		return translate(err)
	}
	if err := s.revokeFamilies(ctx, append(listed.Val(), legacy.Val()...)); err != nil {
		return err
	}
	return s.c.invalidate(ctx, "u:"+userID)
}

// FamilyActive implements backend.RefreshTokenStore.
func (s *Sessions) FamilyActive(ctx context.Context, familyID string) (bool, error) {
	revoked, err := s.c.client.HGet(ctx, s.familyKey(familyID), "revoked").Result()
	if err == redis.Nil {
		return false, nil
	}
	if err != nil {
		return false, translate(err)
	}
	return revoked == "0", nil
}

// stampKey is a user's change stamp (backend.UserStamps), kept without
// expiry: one small key per user.
func (s *Sessions) stampKey(userID string) string { return s.c.Key("session", "stamp", userID) }

var _ backend.UserStamps = (*Sessions)(nil)

// stampScript moves a stamp on by one or two, to the parity ARGV[1] asks
// for (1 odd, 0 even): always a new value, never the old parity's.
var stampScript = redis.NewScript(`
local v = redis.call('INCR', KEYS[1])
if v % 2 ~= tonumber(ARGV[1]) then v = redis.call('INCR', KEYS[1]) end
return v`)

// BeginUserChange implements backend.UserStamps.
func (s *Sessions) BeginUserChange(ctx context.Context, userID string) error {
	return s.moveStamp(ctx, userID, 1)
}

// EndUserChange implements backend.UserStamps.
func (s *Sessions) EndUserChange(ctx context.Context, userID string) error {
	return s.moveStamp(ctx, userID, 0)
}

// moveStamp moves a user's stamp to parity and drops it from every
// process's copy of the sessions (authcache.go).
func (s *Sessions) moveStamp(ctx context.Context, userID string, parity int) error {
	if err := stampScript.Run(ctx, s.c.client, []string{s.stampKey(userID)}, parity).Err(); err != nil {
		return translate(err)
	}
	return s.c.invalidate(ctx, "u:"+userID)
}

// SeedUserStamp implements backend.UserStamps.
func (s *Sessions) SeedUserStamp(ctx context.Context, userID string) error {
	set, err := s.c.client.SetNX(ctx, s.stampKey(userID), 2, 0).Result()
	if err != nil || !set {
		return translate(err)
	}
	return s.c.invalidate(ctx, "u:"+userID) // copies that saw no stamp
}

// FamilyActiveStamp implements backend.UserStamps: from the process's
// copy when it has one (authcache.go), else two reads in one pipeline (on
// a Cluster the keys may live on two nodes; the reads need not be atomic
// together).
func (s *Sessions) FamilyActiveStamp(ctx context.Context, familyID, userID string) (bool, int64, error) {
	s.c.startAuthCache()
	stamp, ok, gen := s.c.auth.lookup(familyID, userID)
	if ok {
		return true, stamp, nil
	}
	active, stamp, err := s.familyActiveStamp(ctx, familyID, userID)
	if err == nil {
		s.c.auth.keep(gen, familyID, userID, active, stamp)
	}
	return active, stamp, err
}

// familyActiveStamp reads FamilyActiveStamp's answer from Redis.
func (s *Sessions) familyActiveStamp(ctx context.Context, familyID, userID string) (bool, int64, error) {
	var revoked *redis.StringCmd
	var stamp *redis.StringCmd
	_, err := s.c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		revoked = p.HGet(ctx, s.familyKey(familyID), "revoked")
		stamp = p.Get(ctx, s.stampKey(userID))
		return nil
	})
	if err != nil && err != redis.Nil {
		return false, 0, translate(err)
	}
	r, err := revoked.Result()
	if err == redis.Nil {
		return false, 0, nil
	} else if err != nil {
		return false, 0, translate(err)
	}
	n, err := stamp.Int64()
	if err == redis.Nil {
		n = 0
	} else if err != nil {
		return false, 0, translate(err)
	}
	return r == "0", n, nil
}

// UserStampsOf implements backend.UserStamps: one pipeline of GETs (an
// MGET would cross Cluster slots).
func (s *Sessions) UserStampsOf(ctx context.Context, userIDs []string) (map[string]int64, error) {
	cmds := make([]*redis.StringCmd, len(userIDs))
	_, err := s.c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range userIDs {
			cmds[i] = p.Get(ctx, s.stampKey(id))
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, translate(err)
	}
	out := make(map[string]int64, len(userIDs))
	for i, c := range cmds {
		n, err := c.Int64()
		switch {
		case err == redis.Nil:
		case err != nil:
			return nil, translate(err)
		default:
			out[userIDs[i]] = n
		}
	}
	return out, nil
}
