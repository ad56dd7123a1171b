package storagetest

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// helper selects what TestHelperProcess does when this test binary is run as
// a child by the tests below; empty in a normal run.
var helper = flag.String("storagetest.helper", "", "internal: role of a child test process")

func TestNames(t *testing.T) {
	dbRE := regexp.MustCompile(`^[a-z0-9_]{1,60}$`)
	bucketRE := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	for _, name := range []string{
		"TestX",
		"TestDraw/ratio_10%/town=城关镇",
		"Test" + strings.Repeat("VeryLongName", 20),
		"测试",
		"Test--double__separators//",
	} {
		db := databaseName(name)
		if !dbRE.MatchString(db) {
			t.Errorf("databaseName(%q) = %q, not [a-z0-9_]{1,60}", name, db)
		}
		if db == databaseName(name) {
			t.Errorf("databaseName(%q) gave the same name twice: %q", name, db)
		}
		ev, doc := bucketNames(name)
		for _, b := range []string{ev, doc} {
			if !bucketRE.MatchString(b) || strings.Contains(b, "--") {
				t.Errorf("bucketNames(%q) gave %q, not a valid S3 bucket name", name, b)
			}
		}
		if ev == doc {
			t.Errorf("bucketNames(%q) gave the same bucket twice", name)
		}
	}
	if got := databaseName("TestDraw/ratio_10%"); !strings.HasPrefix(got, "testdraw_ratio_10_") {
		t.Errorf("databaseName does not follow the test name: %q", got)
	}
}

func TestMongoDropsItsDatabaseOnSuccess(t *testing.T) {
	skipShort(t, "MongoDB")
	var name string
	t.Run("inner", func(t *testing.T) {
		db := Mongo(t)
		name = db.Name()
		if _, err := db.Database().Collection("things").InsertOne(t.Context(), bson.D{{Key: "n", Value: 1}}); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.HasPrefix(name, "testmongodropsitsdatabaseonsuccess_inner_") {
		t.Errorf("database %q is not named after the test", name)
	}
	outer := Mongo(t)
	names, err := outer.Database().Client().ListDatabaseNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == name {
			t.Errorf("database %s still exists after its test passed", name)
		}
	}
}

func TestRedisDeletesItsKeysOnSuccess(t *testing.T) {
	skipShort(t, "Redis")
	var prefix string
	t.Run("inner", func(t *testing.T) {
		c := Redis(t)
		prefix = c.Prefix()
		for _, k := range []string{"a", "b", "lock:draw:1"} {
			if err := c.Client().Set(t.Context(), c.Key(k), "v", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if cfg := Config(t); !regexp.MustCompile("^" + regexp.QuoteMeta(cfg.RedisPrefix) + `testredisdeletesitskeysonsuccess_inner:[0-9a-f]{6}:$`).MatchString(prefix) {
		t.Errorf("prefix %q is not <SUIJI_REDIS_PREFIX><test name>:<random>:", prefix)
	}
	outer := Redis(t)
	keys, err := outer.Client().Keys(t.Context(), globEscape(prefix)+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		t.Errorf("keys %q remain after their test passed", keys)
	}
}

func TestObjectsRemovesItsBucketsOnSuccess(t *testing.T) {
	skipShort(t, "MinIO")
	var evidence, documents string
	t.Run("inner", func(t *testing.T) {
		s := Objects(t)
		evidence, documents = s.EvidenceBucket(), s.DocumentsBucket()
		ctx := t.Context()
		mc := s.Client()
		put := func(bucket, key, body string, opts minio.PutObjectOptions) {
			t.Helper()
			if _, err := mc.PutObject(ctx, bucket, key, strings.NewReader(body), int64(len(body)), opts); err != nil {
				t.Fatalf("put %s/%s: %v", bucket, key, err)
			}
		}
		put(documents, "notice.pdf", "pdf", minio.PutObjectOptions{})
		// Two versions and a delete marker in the (versioned) evidence bucket,
		// one of them under governance retention.
		put(evidence, "a/photo.jpg", "v1", minio.PutObjectOptions{Mode: minio.Governance, RetainUntilDate: time.Now().Add(time.Hour)})
		put(evidence, "a/photo.jpg", "v2", minio.PutObjectOptions{})
		if err := mc.RemoveObject(ctx, evidence, "a/photo.jpg", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	for _, b := range []string{evidence, documents} {
		if b == "" || !strings.HasPrefix(b, "testobjectsremovesitsbucketsonsuccess-inner-") {
			t.Errorf("bucket %q is not named after the test", b)
		}
	}
	outer := Objects(t)
	for _, b := range []string{evidence, documents} {
		ok, err := outer.Client().BucketExists(t.Context(), b)
		if err != nil || ok {
			t.Errorf("bucket %s exists = %t (%v) after its test passed", b, ok, err)
		}
	}
}

// TestHelperProcess is not a test of its own: the tests below run this test
// binary again with -storagetest.helper set, so that a helper can fail or
// skip a test without failing theirs.
func TestHelperProcess(t *testing.T) {
	switch *helper {
	case "":
		return // a normal run: nothing to do
	case "mongo":
		Mongo(t)
	case "redis":
		Redis(t)
	case "objects":
		Objects(t)
	case "fail":
		db, c, s := Mongo(t), Redis(t), Objects(t)
		ctx := t.Context()
		if _, err := db.Database().Collection("things").InsertOne(ctx, bson.D{{Key: "n", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := c.Client().Set(ctx, c.Key("k"), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Client().PutObject(ctx, s.DocumentsBucket(), "d", strings.NewReader("d"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Error("failing on purpose, so that the helpers keep what the test wrote")
	}
	t.Logf("helper %s done", *helper)
}

// child runs TestHelperProcess in a new process with the given role, extra
// environment and flags, and returns its output and whether it failed.
func child(t *testing.T, role string, env []string, flags ...string) (string, bool) {
	t.Helper()
	args := append([]string{"-test.run=^TestHelperProcess$", "-test.v", "-test.count=1", "-storagetest.helper=" + role}, flags...)
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running the child: %v", err)
	}
	return string(out), err != nil
}

func TestUnreachableServiceFailsNeverSkips(t *testing.T) {
	for _, tc := range []struct {
		role, env, want string
	}{
		{"mongo", "SUIJI_MONGO_URI=mongodb://127.0.0.1:1/", `MongoDB unreachable at mongodb://127.0.0.1:1/: set SUIJI_MONGO_URI or run the tests with "make test"`},
		{"redis", "SUIJI_REDIS_URL=redis://127.0.0.1:1/0", `Redis unreachable at redis://127.0.0.1:1/0: set SUIJI_REDIS_URL or run the tests with "make test"`},
		{"objects", "SUIJI_MINIO_ENDPOINT=127.0.0.1:1", `MinIO unreachable at http://127.0.0.1:1: set SUIJI_MINIO_ENDPOINT or run the tests with "make test"`},
	} {
		t.Run(tc.role, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			out, failed := child(t, tc.role, []string{tc.env})
			if !failed || !strings.Contains(out, "--- FAIL: TestHelperProcess") || strings.Contains(out, "--- SKIP") {
				t.Errorf("the child did not fail (or skipped):\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("the child's output lacks %q:\n%s", tc.want, out)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("finding %s unreachable took %v", tc.role, d)
			}
		})
	}
}

func TestShortModeSkips(t *testing.T) {
	for _, role := range []string{"mongo", "redis", "objects"} {
		// Unreachable addresses: in short mode nothing may even be dialled.
		out, failed := child(t, role, []string{
			"SUIJI_MONGO_URI=mongodb://127.0.0.1:1/", "SUIJI_REDIS_URL=redis://127.0.0.1:1/0", "SUIJI_MINIO_ENDPOINT=127.0.0.1:1",
		}, "-test.short")
		if failed || !strings.Contains(out, "--- SKIP: TestHelperProcess") || !strings.Contains(out, "short mode") {
			t.Errorf("%s in short mode: want a skip mentioning short mode, got:\n%s", role, out)
		}
	}
}

func TestFailedTestKeepsItsData(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs MongoDB, Redis and MinIO; skipped in short mode (testing.Short)")
	}
	out, failed := child(t, "fail", nil)
	if !failed {
		t.Fatalf("the child did not fail:\n%s", out)
	}
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the child's output lacks %s:\n%s", re, out)
		}
		return m[1]
	}
	dbName := find(`kept MongoDB database (\S+) for inspection`)
	prefix := find(`kept Redis keys (\S+)\* for inspection`)
	evidence := find(`kept MinIO buckets (\S+) and \S+ for inspection`)
	documents := find(`kept MinIO buckets \S+ and (\S+) for inspection`)

	ctx := context.Background()
	db := Mongo(t)
	if names, err := db.Database().Client().ListDatabaseNames(ctx, bson.D{{Key: "name", Value: dbName}}); err != nil || len(names) != 1 {
		t.Errorf("kept database %s: found %q, %v", dbName, names, err)
	}
	if err := db.Database().Client().Database(dbName).Drop(ctx); err != nil {
		t.Error(err)
	}
	c := Redis(t)
	if n, err := c.Client().Exists(ctx, prefix+"k").Result(); err != nil || n != 1 {
		t.Errorf("kept key %sk: exists = %d, %v", prefix, n, err)
	}
	if err := deleteKeys(ctx, c, prefix); err != nil {
		t.Error(err)
	}
	s := Objects(t)
	for _, b := range []string{evidence, documents} {
		if ok, err := s.Client().BucketExists(ctx, b); err != nil || !ok {
			t.Errorf("kept bucket %s: exists = %t, %v", b, ok, err)
		}
		if err := removeBucket(ctx, s, b); err != nil {
			t.Error(err)
		}
	}
}
