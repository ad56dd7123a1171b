// Package cache is suiji's connection to Redis, which holds what may expire
// or be lost without losing records: draw locks, idempotency keys, rate-limit
// counters, refresh-token families and pub/sub. Records of the inspection
// itself never live here; they are in MongoDB.
//
// Every key suiji writes starts with the configured prefix (see Cache.Key) so
// that several stacks and tests can share one Redis.
//
// Redis may be one server, a master watched by Sentinel (go-redis's failover
// client follows it to the new master without a restart) or a Cluster (see
// parseAddress for the URL forms). Keys that one script or transaction
// touches together share a hash tag ("{…}") so that they live in one Cluster
// slot; everything else touches one key per command. The package translates
// Redis errors to *backend.Error values. It imports backend but must not
// import mobile-api or any other storage package.
package cache

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/backend"
)

// openTimeout bounds the first ping, so that an unreachable Redis is
// reported within seconds.
const openTimeout = 5 * time.Second

// Options says where Redis is and how suiji's keys are named.
type Options struct {
	// URL is a redis:// or rediss:// URL, with the database number as its
	// path, e.g. redis://127.0.0.1:6379/0; redis+sentinel://s1:26379,…/MASTER/db
	// for a master found through Sentinel; redis+cluster://n1:6379,… for a
	// Cluster.
	URL string
	// Prefix starts every key suiji writes, e.g. "suiji:".
	Prefix string
}

// Cache is a connection pool to Redis plus suiji's key prefix. It is safe for
// concurrent use; open one per process and close it on shutdown.
type Cache struct {
	client   redis.UniversalClient
	prefix   string
	addr     string    // the URL without credentials, for messages
	topology string    // single, sentinel or cluster
	auth     authCache // the sessions' copy in memory (authcache.go)
}

// Open parses the URL, connects and pings Redis. It returns EINVALID when the
// URL cannot be parsed and EUNAVAILABLE, naming Redis and the address tried,
// when the server does not answer.
func Open(ctx context.Context, o Options) (*Cache, error) {
	a, err := parseAddress(o.URL)
	if err != nil {
		// A *url.Error repeats the whole URL, password included; keep
		// only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, backend.Wrap(err, backend.EINVALID,
			"Redis URL is invalid: %v (want redis://[:password@]host:port/db, redis+sentinel://host:port,…/MASTER/db or redis+cluster://host:port,…)", err)
	}
	c := &Cache{client: a.client(), prefix: o.Prefix, addr: a.display, topology: a.topology}
	// Bounded like MongoDB's server selection: the Sentinel and Cluster
	// clients keep retrying their seed addresses for as long as they may.
	pctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		_ = c.client.Close()
		return nil, err
	}
	return c, nil
}

// Ping returns nil when Redis answers and EUNAVAILABLE, naming Redis and its
// address, when it does not (unreachable, too slow, or refusing the
// credentials).
func (c *Cache) Ping(ctx context.Context) error {
	err := c.client.Ping(ctx).Err()
	switch {
	case err == nil:
		return nil
	case backend.ErrorCode(translate(err)) == backend.EUNAVAILABLE:
		return backend.Wrap(err, backend.EUNAVAILABLE, "Redis unreachable at %s", c.addr)
	default: // e.g. a wrong password: the server answers but cannot be used
		return backend.Wrap(err, backend.EUNAVAILABLE, "Redis at %s failed a ping", c.addr)
	}
}

// Close closes the connection pool. Commands in flight fail afterwards.
func (c *Cache) Close() error {
	c.stopAuthCache()
	return translate(c.client.Close())
}

// Key returns the prefix followed by parts joined by ":", e.g.
// Key("lock", "draw", id) is "suiji:lock:draw:<id>". Every key suiji writes
// is built here so that a stack's or a test's keys can be found by prefix.
func (c *Cache) Key(parts ...string) string {
	return c.prefix + strings.Join(parts, ":")
}

// Prefix returns the prefix of every key this Cache builds.
func (c *Cache) Prefix() string { return c.prefix }

// Client returns the underlying Redis client for the storage code built on
// this connection (locks, idempotency keys, limiter storage, token families,
// pub/sub). Code outside storage never uses it. Keys written through it must
// come from Key.
func (c *Cache) Client() redis.UniversalClient { return c.client }

// Topology is "single", "sentinel" or "cluster": what the URL named.
func (c *Cache) Topology() string { return c.topology }

// ForEachShard calls fn with a client of every server that holds keys: the
// one server (or Sentinel's current master), or each Cluster master. Key
// scans (SCAN sees one server's keys) go through it.
func (c *Cache) ForEachShard(ctx context.Context, fn func(ctx context.Context, shard *redis.Client) error) error {
	switch cl := c.client.(type) {
	case *redis.ClusterClient:
		return translate(cl.ForEachMaster(ctx, fn))
	case *redis.Client:
		return fn(ctx, cl)
	default:
		return backend.Errorf(backend.EINTERNAL, "unexpected Redis client %T", c.client)
	}
}

// translate turns a Redis client error into a *backend.Error: a missing key
// (redis.Nil) is ENOTFOUND; a connection that cannot be made, breaks or times
// out, a closed client, and a server that is loading or cannot take more
// clients are EUNAVAILABLE; anything else is EINTERNAL. A *backend.Error
// passes through unchanged and nil stays nil.
func translate(err error) error {
	var be *backend.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &be):
		return err
	case errors.Is(err, redis.Nil):
		return backend.Wrap(err, backend.ENOTFOUND, "not found")
	case unavailable(err):
		return backend.Wrap(err, backend.EUNAVAILABLE, "Redis is unavailable")
	default:
		return backend.Wrap(err, backend.EINTERNAL, "Redis command failed")
	}
}

// unavailable reports whether err means that Redis could not be reached or
// could not serve the command now, so that retrying later may work.
func unavailable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) ||
		redis.IsLoadingError(err) ||
		redis.IsMaxClientsError(err) ||
		redis.IsTryAgainError(err)
}
