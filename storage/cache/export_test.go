package cache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Translate exposes translate to the external tests, which cannot live in
// this package because they use storage/storagetest (which imports it).
var Translate = translate

// EndPairLock lifts the lock of a (username, ip) pair as its expiry would,
// so that tests of growing locks need not wait them out.
func EndPairLock(l *LoginThrottle, username, ip string) error {
	_, lock, _ := l.pairKeys(username, ip)
	return l.c.client.Del(context.Background(), lock).Err()
}

// AuthCacheHits is how many FamilyActiveStamp answers c's copy of the
// sessions gave, and whether the copy is in use (subscribed).
func AuthCacheHits(c *Cache) (uint64, bool) {
	c.auth.mu.Lock()
	defer c.auth.mu.Unlock()
	return c.auth.hits, c.auth.live
}

// UserFamilies is the list of userID's families, oldest first.
func UserFamilies(s *Sessions, userID string) ([]string, error) {
	return s.c.client.ZRange(context.Background(), s.userKey(userID), 0, -1).Result()
}

// ListFamily lists familyID among userID's families as started at, without
// creating it: a sign-in between its two steps, or a family expired.
func ListFamily(s *Sessions, userID, familyID string, at time.Time) error {
	return s.c.client.ZAdd(context.Background(), s.userKey(userID), redis.Z{Score: float64(at.UnixMilli()), Member: familyID}).Err()
}

// ListLegacyFamily lists familyID for userID in the unordered set of
// before the list was ordered, as a sign-in before the upgrade did.
func ListLegacyFamily(s *Sessions, userID, familyID string) error {
	return s.c.client.SAdd(context.Background(), s.legacyUserKey(userID), familyID).Err()
}
