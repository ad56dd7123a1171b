// Package storagetest gives each integration test its own MongoDB database,
// Redis key prefix and MinIO buckets, named after the test and removed when
// the test passes (kept for inspection when it fails), so that tests can run
// in parallel against one shared test stack.
//
// The services come from the same SUIJI_* variables the server reads, through
// config.Load; `make test` starts a test stack and sets them. Each helper
// skips in short mode (go test -short runs only pure unit tests) and fails,
// never skips, when its service cannot be reached: in CI a missing service is
// a failure.
//
// Only tests import this package. It may import the storage packages and
// config, but never mobile-api.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/config"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/objects"
)

// cleanupTimeout bounds the removal of a test's data after the test.
const cleanupTimeout = time.Minute

// hint is appended to every "unreachable" failure.
const hint = `or run the tests with "make test", which starts a test stack`

// Config loads the configuration from the SUIJI_* environment variables, as
// the server does, and fails the test when it is invalid. It refuses to run
// against SUIJI_ENV=production.
func Config(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	if cfg.Env == config.EnvProduction {
		t.Fatalf("storagetest: refusing to run integration tests with SUIJI_ENV=production")
	}
	return cfg
}

// Mongo returns a connection to a database of the test's own, named after the
// test plus a random suffix, with the indexes ensured. The database is dropped
// when the test passes and kept (and named in the log) when it fails. It
// skips in short mode and fails when MongoDB cannot be reached.
func Mongo(t testing.TB) *mongodb.DB {
	t.Helper()
	skipShort(t, "MongoDB")
	cfg := Config(t)
	knownDown(t, "SUIJI_MONGO_URI", cfg.MongoURI)
	name := databaseName(t.Name())
	db, err := mongodb.Open(t.Context(), mongodb.Options{URI: cfg.MongoURI, Database: name})
	if err != nil {
		unreachable(t, err, "SUIJI_MONGO_URI", cfg.MongoURI)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if t.Failed() {
			t.Logf("storagetest: kept MongoDB database %s for inspection", name)
		} else if err := db.Drop(ctx); err != nil {
			t.Errorf("storagetest: dropping MongoDB database %s: %v", name, err)
		}
		if err := db.Close(ctx); err != nil {
			t.Logf("storagetest: closing MongoDB: %v", err)
		}
	})
	if err := db.EnsureIndexes(t.Context()); err != nil {
		t.Fatalf("storagetest: ensuring indexes in %s: %v", name, err)
	}
	return db
}

// Redis returns a connection whose key prefix is the configured prefix
// followed by the test's name and a random part, e.g.
// "suijitest:testlocks:1a2b3c:". Keys under that prefix are deleted when the
// test passes and kept when it fails. Code under test must build its keys
// with Cache.Key. It skips in short mode and fails when Redis cannot be
// reached.
func Redis(t testing.TB) *cache.Cache {
	t.Helper()
	skipShort(t, "Redis")
	cfg := Config(t)
	knownDown(t, "SUIJI_REDIS_URL", cfg.RedisURL)
	return openRedis(t, cfg.RedisURL)
}

// openRedis connects to url with the test's own key prefix, removed when
// the test passes.
func openRedis(t testing.TB, url string) *cache.Cache {
	t.Helper()
	prefix := Config(t).RedisPrefix + sanitize(t.Name(), '_', 60) + ":" + randomHex(3) + ":"
	c, err := cache.Open(t.Context(), cache.Options{URL: url, Prefix: prefix})
	if err != nil {
		unreachable(t, err, "SUIJI_REDIS_URL", url)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if t.Failed() {
			t.Logf("storagetest: kept Redis keys %s* for inspection", prefix)
		} else if err := deleteKeys(ctx, c, prefix); err != nil {
			t.Errorf("storagetest: deleting Redis keys %s*: %v", prefix, err)
		}
		if err := c.Close(); err != nil {
			t.Logf("storagetest: closing Redis: %v", err)
		}
	})
	return c
}

// SecondInstance opens second connections to the database of db and to
// the key prefix of c, as another instance of the server would (its own
// pools, its own in-memory copies), closed when the test ends; what they
// hold is cleaned up with the first ones.
func SecondInstance(t testing.TB, db *mongodb.DB, c *cache.Cache) (*mongodb.DB, *cache.Cache) {
	t.Helper()
	cfg := Config(t)
	db2, err := mongodb.Open(t.Context(), mongodb.Options{URI: cfg.MongoURI, Database: db.Name()})
	if err != nil {
		unreachable(t, err, "SUIJI_MONGO_URI", cfg.MongoURI)
	}
	c2, err := cache.Open(t.Context(), cache.Options{URL: cfg.RedisURL, Prefix: c.Prefix()})
	if err != nil {
		unreachable(t, err, "SUIJI_REDIS_URL", cfg.RedisURL)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		_ = db2.Close(ctx)
		_ = c2.Close()
	})
	return db2, c2
}

// Objects returns a store bound to an evidence bucket (with object lock) and
// a documents bucket of the test's own, named after the test, both created.
// When the test passes every object version is removed and then the buckets;
// versions still under retention cannot be removed, so they and their bucket
// are left and named in the log. When the test fails everything is kept. It
// skips in short mode and fails when MinIO cannot be reached.
func Objects(t testing.TB) *objects.Store {
	t.Helper()
	return ObjectsWith(t, nil)
}

// ObjectsWith is Objects with options changed by adjust before the store
// is opened (a default retention for a test of WORM, a public endpoint).
func ObjectsWith(t testing.TB, adjust func(*objects.Options)) *objects.Store {
	t.Helper()
	skipShort(t, "MinIO")
	cfg := Config(t)
	knownDown(t, "SUIJI_MINIO_ENDPOINT", cfg.MinIOEndpoint)
	evidence, documents := bucketNames(t.Name())
	o := objects.Options{
		Endpoint:        cfg.MinIOEndpoint,
		AccessKey:       cfg.MinIOAccessKey,
		SecretKey:       cfg.MinIOSecretKey,
		Region:          cfg.MinIORegion,
		Secure:          cfg.MinIOSecure,
		EvidenceBucket:  evidence,
		DocumentsBucket: documents,
	}
	if adjust != nil {
		adjust(&o)
	}
	s, err := objects.Open(t.Context(), o)
	if err != nil {
		unreachable(t, err, "SUIJI_MINIO_ENDPOINT", cfg.MinIOEndpoint)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if t.Failed() {
			t.Logf("storagetest: kept MinIO buckets %s and %s for inspection", evidence, documents)
			return
		}
		for _, b := range []string{evidence, documents} {
			if err := removeBucket(ctx, s, b); err != nil {
				t.Logf("storagetest: left MinIO bucket %s: %v", b, err)
			}
		}
	})
	if err := s.EnsureBuckets(t.Context()); err != nil {
		t.Fatalf("storagetest: creating buckets %s and %s: %v", evidence, documents, err)
	}
	return s
}

// skipShort skips the test in short mode, naming the service it needs.
func skipShort(t testing.TB, service string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test: needs %s; skipped in short mode (testing.Short), run without -short", service)
	}
}

// down remembers, per process, the services found unreachable (by variable
// and value), so that the other tests of a package fail at once instead of
// each waiting for a timeout.
var down sync.Map // "SUIJI_MONGO_URI=mongodb://…" → error

// knownDown fails the test at once when an earlier test of this process found
// the service at value unreachable.
func knownDown(t testing.TB, variable, value string) {
	t.Helper()
	if err, ok := down.Load(variable + "=" + value); ok {
		unreachable(t, err.(error), variable, value)
	}
}

// unreachable fails the test after Open failed: an unreachable service gets a
// message naming it, the address tried and the variable to set.
func unreachable(t testing.TB, err error, variable, value string) {
	t.Helper()
	if backend.ErrorCode(err) == backend.EUNAVAILABLE {
		down.Store(variable+"="+value, err)
		t.Fatalf("%s: set %s %s\n(cause: %v)", backend.ErrorMessage(err), variable, hint, errors.Unwrap(err))
	}
	t.Fatalf("storagetest: %v (check %s)", err, variable)
}

// databaseName returns a MongoDB database name for the test called testName:
// lowercase letters, digits and underscores, at most 60 characters including
// a random suffix that keeps repeated and parallel runs apart.
func databaseName(testName string) string {
	return sanitize(testName, '_', 60-7) + "_" + randomHex(3)
}

// bucketNames returns an evidence and a documents bucket name for the test
// called testName, following S3's rules (3 to 63 lowercase letters, digits
// and hyphens, starting and ending with a letter or digit), with a random
// part shared by both.
func bucketNames(testName string) (evidence, documents string) {
	base := sanitize(testName, '-', 63-len("-123456-documents"))
	r := randomHex(3)
	return base + "-" + r + "-evidence", base + "-" + r + "-documents"
}

// sanitize lowercases s and replaces every run of characters outside
// [a-z0-9] by sep, trims sep from both ends and cuts the result to max
// characters. An empty result becomes "t".
func sanitize(s string, sep rune, max int) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if pending && b.Len() > 0 {
				b.WriteRune(sep)
			}
			pending = false
			b.WriteRune(r)
		} else {
			pending = true
		}
	}
	out := b.String()
	if len(out) > max {
		out = strings.TrimRight(out[:max], string(sep))
	}
	if out == "" {
		out = "t"
	}
	return out
}

// randomHex returns 2n random hexadecimal digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
