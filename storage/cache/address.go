package cache

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Topologies a Redis URL can name.
const (
	topologySingle   = "single"   // redis:// or rediss://: one server
	topologySentinel = "sentinel" // redis+sentinel://: a master found (and failed over) by Sentinel
	topologyCluster  = "cluster"  // redis+cluster://: Redis Cluster, keys spread over slots
)

// address is a parsed SUIJI_REDIS_URL.
type address struct {
	topology string
	client   func() redis.UniversalClient
	display  string // the URL without credentials, for messages
}

// parseAddress reads one of the URL forms SUIJI_REDIS_URL accepts:
//
//	redis://[[user]:password@]host:port/db                one server (rediss:// for TLS)
//	redis+sentinel://[[user]:password@]s1:26379,s2:26379/MASTER[/db][?sentinel_password=…&sentinel_username=…]
//	redis+cluster://[[user]:password@]n1:6379,n2:6379[?…]
//
// The +sentinel and +cluster forms take rediss+… for TLS too. The password
// in the user part is the data servers'; Sentinel's own, when it has one,
// goes in sentinel_password. Several addresses are comma-separated; one
// reachable address is enough to find the rest.
func parseAddress(raw string) (*address, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("no scheme")
	}
	switch scheme {
	case "redis", "rediss":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		return &address{
			topology: topologySingle,
			client:   func() redis.UniversalClient { return redis.NewClient(opts) },
			display:  fmt.Sprintf("%s://%s/%d", scheme, opts.Addr, opts.DB),
		}, nil
	case "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster":
	default:
		return nil, fmt.Errorf("unknown scheme %q", scheme)
	}
	base, topology, _ := strings.Cut(scheme, "+")
	// The host list is not one URL host, so parse it apart and let
	// net/url read the rest (user information, path, query).
	var userinfo string
	if at := strings.LastIndex(beforePath(rest), "@"); at >= 0 {
		userinfo, rest = rest[:at], rest[at+1:]
	}
	hosts := beforePath(rest)
	u, err := url.Parse("x://h" + rest[len(hosts):])
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, fmt.Errorf("address %q is not host:port", h)
		}
		addrs = append(addrs, h)
	}
	user, password, err := splitUserinfo(userinfo)
	if err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if base == "rediss" {
		host, _, _ := net.SplitHostPort(addrs[0])
		tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	q := u.Query()
	path := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	display := scheme + "://" + hosts

	if topology == topologyCluster {
		if len(path) > 1 || (len(path) == 1 && path[0] != "0") {
			return nil, errors.New("a Redis Cluster has only database 0")
		}
		if err := onlyQuery(q); err != nil {
			return nil, err
		}
		opts := &redis.ClusterOptions{Addrs: addrs, Username: user, Password: password, TLSConfig: tlsConfig}
		return &address{
			topology: topologyCluster,
			client:   func() redis.UniversalClient { return redis.NewClusterClient(opts) },
			display:  display,
		}, nil
	}

	// Sentinel: /MASTER[/db].
	if len(path) == 0 || len(path) > 2 {
		return nil, errors.New("a Sentinel URL names the master: redis+sentinel://host:26379,…/MASTER/db")
	}
	db := 0
	if len(path) == 2 {
		if db, err = strconv.Atoi(path[1]); err != nil || db < 0 {
			return nil, fmt.Errorf("invalid database number %q", path[1])
		}
	}
	if err := onlyQuery(q, "sentinel_username", "sentinel_password"); err != nil {
		return nil, err
	}
	opts := &redis.FailoverOptions{
		MasterName:       path[0],
		SentinelAddrs:    addrs,
		SentinelUsername: q.Get("sentinel_username"),
		SentinelPassword: q.Get("sentinel_password"),
		Username:         user,
		Password:         password,
		DB:               db,
		TLSConfig:        tlsConfig,
	}
	return &address{
		topology: topologySentinel,
		client:   func() redis.UniversalClient { return redis.NewFailoverClient(opts) },
		display:  fmt.Sprintf("%s/%s/%d", display, path[0], db),
	}, nil
}

// beforePath returns s up to its first '/' or '?'.
func beforePath(s string) string {
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		return s[:i]
	}
	return s
}

// splitUserinfo reads "user:password", ":password" or "password-less user",
// percent-decoded.
func splitUserinfo(s string) (user, password string, err error) {
	if s == "" {
		return "", "", nil
	}
	user, password, _ = strings.Cut(s, ":")
	if user, err = url.PathUnescape(user); err != nil {
		return "", "", errors.New("bad escape in the user name")
	}
	if password, err = url.PathUnescape(password); err != nil {
		return "", "", errors.New("bad escape in the password")
	}
	return user, password, nil
}

// onlyQuery refuses query parameters other than allowed, so that a typo
// is an error rather than a silently ignored setting.
func onlyQuery(q url.Values, allowed ...string) error {
	for k := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return fmt.Errorf("unknown option %q", k)
		}
	}
	return nil
}
