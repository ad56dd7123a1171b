package storagetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"suiji/storage/cache"
)

// RedisServer starts a redis-server of the test's own on a free loopback
// port (no persistence unless extra says otherwise) and waits until it
// answers PING.
func RedisServer(t testing.TB, dir string, extra ...string) (*Process, int) {
	t.Helper()
	skipShort(t, "redis-server")
	port := FreePort(t, 0)
	return redisServerOn(t, dir, port, extra...), port
}

func redisServerOn(t testing.TB, dir string, port int, extra ...string) *Process {
	t.Helper()
	data := filepath.Join(dir, "redis-"+strconv.Itoa(port))
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", data,
		"--save", "", "--appendonly", "no", "--daemonize", "no"}, extra...)
	p := StartProcess(t, dir, "redis-server", nil, args...)
	p.WaitFor("PING", 15*time.Second, func(ctx context.Context) error { return pingRedis(ctx, port) })
	return p
}

func pingRedis(ctx context.Context, port int) error {
	c := redis.NewClient(&redis.Options{Addr: Addr(port), MaxRetries: -1})
	defer c.Close()
	return c.Ping(ctx).Err()
}

// SentinelSet is a Redis master, its replica and three Sentinels (quorum
// two) watching them under the master name "suiji", all on loopback.
type SentinelSet struct {
	URL       string // redis+sentinel://…/suiji/0 naming the three Sentinels
	Master    *Process
	Replica   *Process
	Sentinels []*Process

	masterPort, replicaPort int
	sentinelPorts           []int
}

// RedisSentinel starts a SentinelSet that fails over within a few seconds
// of its master dying (down-after 1 s) and waits until every Sentinel
// knows the replica and the other Sentinels.
func RedisSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	skipShort(t, "redis-server")
	dir := t.TempDir()
	s := &SentinelSet{}
	s.Master, s.masterPort = RedisServer(t, dir)
	s.Replica, s.replicaPort = RedisServer(t, dir, "--replicaof", "127.0.0.1", strconv.Itoa(s.masterPort))
	var addrs []string
	for i := range 3 {
		port := FreePort(t, 0)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
			"sentinel monitor suiji 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds suiji 1000\n"+
			"sentinel failover-timeout suiji 5000\n"+
			"sentinel parallel-syncs suiji 1\n", port, dir, s.masterPort)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		p := StartProcess(t, dir, "redis-server", nil, conf, "--sentinel")
		s.Sentinels = append(s.Sentinels, p)
		s.sentinelPorts = append(s.sentinelPorts, port)
		addrs = append(addrs, Addr(port))
	}
	for i, p := range s.Sentinels {
		port := s.sentinelPorts[i]
		p.WaitFor("Sentinel sees the replica and the other Sentinels", 30*time.Second, func(ctx context.Context) error {
			sc := redis.NewSentinelClient(&redis.Options{Addr: Addr(port)})
			defer sc.Close()
			m, err := sc.Master(ctx, "suiji").Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("replicas %s, other sentinels %s", m["num-slaves"], m["num-other-sentinels"])
			}
			return nil
		})
	}
	s.URL = "redis+sentinel://" + strings.Join(addrs, ",") + "/suiji/0"
	return s
}

// MasterAddr asks the first Sentinel that answers which address is the
// master now.
func (s *SentinelSet) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, port := range s.sentinelPorts {
		sc := redis.NewSentinelClient(&redis.Options{Addr: Addr(port)})
		a, err := sc.GetMasterAddrByName(ctx, "suiji").Result()
		_ = sc.Close()
		if err == nil {
			return a[0] + ":" + a[1], nil
		}
		last = err
	}
	return "", last
}

// ReplicaAddr is the address the replica was started on.
func (s *SentinelSet) ReplicaAddr() string { return Addr(s.replicaPort) }

// MasterPortAtStart is the port the first master was started on.
func (s *SentinelSet) MasterPortAtStart() int { return s.masterPort }

// RedisCluster starts a Redis Cluster of n masters (no replicas) on
// loopback, assigns the 16384 slots evenly and waits until every node
// reports the cluster ok. It returns the redis+cluster:// URL naming all
// nodes.
func RedisCluster(t testing.TB, n int) (string, []*Process) {
	t.Helper()
	skipShort(t, "redis-server")
	dir := t.TempDir()
	ports := make([]int, n)
	procs := make([]*Process, n)
	for i := range n {
		ports[i] = FreePort(t, 10000)
		procs[i] = redisServerOn(t, dir, ports[i], "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", ports[i])),
			"--cluster-node-timeout", "2000")
	}
	ctx := t.Context()
	per := 16384 / n
	for i, port := range ports {
		c := redis.NewClient(&redis.Options{Addr: Addr(port)})
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = 16383
		}
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("storagetest: CLUSTER ADDSLOTSRANGE on %d: %v", port, err)
		}
		for _, other := range ports {
			if other != port {
				if err := c.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", other).Err(); err != nil {
					t.Fatalf("storagetest: CLUSTER MEET: %v", err)
				}
			}
		}
		_ = c.Close()
	}
	var addrs []string
	for i, port := range ports {
		addrs = append(addrs, Addr(port))
		procs[i].WaitFor("cluster_state:ok", 30*time.Second, func(ctx context.Context) error {
			c := redis.NewClient(&redis.Options{Addr: Addr(port)})
			defer c.Close()
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				return fmt.Errorf("not yet: %s", strings.SplitN(info, "\n", 2)[0])
			}
			return nil
		})
	}
	return "redis+cluster://" + strings.Join(addrs, ","), procs
}

// RedisAt is Redis with the URL given instead of SUIJI_REDIS_URL (a
// Sentinel set or Cluster the test started): a connection whose key prefix
// is the test's own, its keys deleted when the test passes.
func RedisAt(t testing.TB, url string) *cache.Cache {
	t.Helper()
	skipShort(t, "Redis")
	return openRedis(t, url)
}

// WaitReplicated waits until the replica has every write the master had
// when it was called (replication is asynchronous: a write of the last
// moment before the master dies is lost with it).
func (s *SentinelSet) WaitReplicated(ctx context.Context) error {
	m := redis.NewClient(&redis.Options{Addr: Addr(s.masterPort)})
	defer m.Close()
	offset, err := replOffset(ctx, m, "master_repl_offset")
	if err != nil {
		return err
	}
	r := redis.NewClient(&redis.Options{Addr: Addr(s.replicaPort)})
	defer r.Close()
	return Eventually(ctx, 10*time.Second, func(ctx context.Context) error {
		got, err := replOffset(ctx, r, "slave_repl_offset")
		if err == nil && got < offset {
			err = fmt.Errorf("replica at offset %d, master at %d", got, offset)
		}
		return err
	})
}

func replOffset(ctx context.Context, c *redis.Client, field string) (int64, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}
