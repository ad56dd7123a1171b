package storagetest

import (
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	"suiji/storage/cache"
	"suiji/storage/objects"
)

// deleteKeys deletes every key that starts with prefix, scanning in batches
// so that a large keyspace is never blocked (on every Cluster master).
func deleteKeys(ctx context.Context, c *cache.Cache, prefix string) error {
	return c.ForEachShard(ctx, func(ctx context.Context, rdb *redis.Client) error {
		return deleteShardKeys(ctx, rdb, prefix)
	})
}

// deleteShardKeys deletes one server's keys that start with prefix.
func deleteShardKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, globEscape(prefix)+"*", 500).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// One DEL per key: under Cluster one server holds many slots,
		// and a multi-key DEL must stay within one.
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.Del(ctx, k)
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return flush()
}

// globEscape escapes the characters Redis's MATCH treats as patterns.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// removeBucket removes every object version and delete marker in bucket, then
// the bucket. Versions under governance retention are removed with the
// bypass; versions under compliance retention or a legal hold cannot be, and
// are reported in the error, with the bucket left in place.
func removeBucket(ctx context.Context, s *objects.Store, bucket string) error {
	mc := s.Client()
	var locked []string
	for obj := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return nil
			}
			return obj.Err
		}
		err := mc.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{VersionID: obj.VersionID, GovernanceBypass: true})
		if err != nil {
			locked = append(locked, fmt.Sprintf("%s (version %s): %v", obj.Key, obj.VersionID, err))
		}
	}
	if len(locked) > 0 {
		return fmt.Errorf("%d object versions could not be removed (retention or legal hold): %s",
			len(locked), strings.Join(locked, "; "))
	}
	err := mc.RemoveBucket(ctx, bucket)
	if minio.ToErrorResponse(err).Code == "NoSuchBucket" {
		return nil
	}
	return err
}
