package cache

import "context"

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
