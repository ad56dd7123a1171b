// Package objects is suiji's connection to MinIO (or another S3-compatible
// store), which keeps evidence objects and generated documents under object
// lock (WORM: COMPLIANCE retention, so nothing can be deleted or overwritten
// before it ends). Phones upload evidence straight to it with presigned
// URLs, so the API never carries the bytes.
//
// It is the only package that knows about the MinIO client and its errors;
// every error it returns is a *backend.Error. It imports backend but must not
// import mobile-api or any other storage package. MinIO itself is AGPL and
// runs as a separate server; only its Apache-licensed client is linked.
package objects

import (
	"context"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"suiji/backend"
)

// reachTimeout bounds the reachability check of Open, because the client
// retries a refused connection for several seconds by itself.
const reachTimeout = 5 * time.Second

// Options says where the object store is, how to sign in and which buckets
// suiji uses.
type Options struct {
	// Endpoint is host:port of the S3 API, without a scheme.
	Endpoint string
	// AccessKey and SecretKey are the credentials.
	AccessKey, SecretKey string
	// Region is the bucket region, e.g. us-east-1.
	Region string
	// Secure makes the client use TLS.
	Secure bool
	// EvidenceBucket holds evidence; it is created with object lock.
	EvidenceBucket string
	// DocumentsBucket holds generated documents; it is created with
	// object lock too.
	DocumentsBucket string
	// PublicEndpoint is where phones reach the store, for the presigned
	// URLs they are given ("" for Endpoint): host:port, or a URL whose
	// scheme says whether it is TLS.
	PublicEndpoint string
	// RetentionYears is both buckets' default retention (COMPLIANCE
	// mode): every object stored is undeletable that long, by
	// anyone. 0 sets none (tests only; configuration refuses less than 5).
	RetentionYears int
	// RetentionDays, when RetentionYears is 0, sets a retention in days
	// instead (tests of WORM use a day).
	RetentionDays int
	// Unlocked creates both buckets without object lock, so objects can
	// be overwritten: only for tests that alter stored objects behind the
	// archive's back (archive verify). Configuration cannot set it.
	Unlocked bool
}

// Store is a client of the object store bound to suiji's two buckets. It is
// safe for concurrent use.
type Store struct {
	client    *minio.Client
	presigner *minio.Client // signs for the public endpoint; never sends a request itself
	retention Options       // the retention fields
	addr      string        // scheme://endpoint, for messages
	region    string
	evidence  string
	documents string
	unlocked  bool // Options.Unlocked (tests only)
}

// Open creates a client and checks that the store answers. It returns
// EINVALID when the options are unusable (an empty endpoint, an invalid
// bucket name, the same bucket twice) and EUNAVAILABLE, naming MinIO and the
// address tried, when the store cannot be reached. Missing buckets are not an
// error here; EnsureBuckets creates them.
func Open(ctx context.Context, o Options) (*Store, error) {
	scheme := "http"
	if o.Secure {
		scheme = "https"
	}
	s := &Store{
		addr:      scheme + "://" + o.Endpoint,
		region:    o.Region,
		evidence:  o.EvidenceBucket,
		documents: o.DocumentsBucket,
		unlocked:  o.Unlocked,
	}
	if o.Endpoint == "" {
		return nil, backend.Errorf(backend.EINVALID, "MinIO needs an endpoint (host:port)")
	}
	for _, b := range []string{o.EvidenceBucket, o.DocumentsBucket} {
		if err := s3utils.CheckValidBucketNameStrict(b); err != nil {
			return nil, backend.Wrap(err, backend.EINVALID, "bucket name %q is invalid", b)
		}
	}
	if o.EvidenceBucket == o.DocumentsBucket {
		return nil, backend.Errorf(backend.EINVALID, "the evidence and documents buckets must differ")
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: o.Secure,
		Region: o.Region,
	})
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "MinIO endpoint %s is invalid", s.addr)
	}
	s.client = client
	if s.presigner, err = newPresigner(o); err != nil {
		return nil, err
	}
	s.retention = Options{RetentionYears: o.RetentionYears, RetentionDays: o.RetentionDays}
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Ping returns nil when the store answers a request about the evidence bucket
// (whether or not that bucket exists yet) and EUNAVAILABLE, naming MinIO and
// its address, when it does not (unreachable, too slow, or refusing the
// credentials).
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.BucketExists(ctx, s.evidence)
	switch {
	case err == nil:
		return nil
	case backend.ErrorCode(translate(err)) == backend.EUNAVAILABLE:
		return backend.Wrap(err, backend.EUNAVAILABLE, "MinIO unreachable at %s", s.addr)
	default: // e.g. wrong credentials: the server answers but cannot be used
		return backend.Wrap(err, backend.EUNAVAILABLE, "MinIO at %s failed a check of bucket %s", s.addr, s.evidence)
	}
}

// EnsureBuckets creates the evidence and the documents bucket, both with
// object lock enabled and a default COMPLIANCE retention (art. 22: at least
// five years for evidence and the statutory documents), unless they exist.
// It is idempotent and safe to run on every start and from several
// instances at once.
//
// Object lock can only be enabled when a bucket is created, so a bucket
// that exists without it makes retention impossible: EnsureBuckets then
// returns EINTERNAL saying so, and an operator must move the objects to a
// new bucket. The one exception is an empty documents bucket without
// object lock (earlier versions created it so and wrote nothing to it):
// it is removed and created again with object lock. It returns
// EUNAVAILABLE when the store cannot be reached.
func (s *Store) EnsureBuckets(ctx context.Context) error {
	if s.unlocked {
		if err := s.ensureBucket(ctx, s.documents, false); err != nil {
			return err
		}
		return s.ensureBucket(ctx, s.evidence, false)
	}
	for _, bucket := range []string{s.documents, s.evidence} {
		if err := s.ensureBucket(ctx, bucket, true); err != nil {
			return err
		}
		enabled, err := s.objectLockEnabled(ctx, bucket)
		if err != nil {
			return err
		}
		if !enabled && bucket == s.documents {
			if enabled, err = s.recreateLocked(ctx, bucket); err != nil {
				return err
			}
		}
		if !enabled {
			return backend.Errorf(backend.EINTERNAL,
				"bucket %s exists without object lock, so retention could never work; "+
					"object lock can only be enabled when a bucket is created: create a new bucket "+
					"(or let suiji create it) and move the objects there", bucket)
		}
		if err := s.ensureRetention(ctx, bucket); err != nil {
			return err
		}
	}
	return nil
}

// recreateLocked removes bucket, if it holds no object version at all,
// and creates it again with object lock. It reports whether the bucket
// has object lock now; false (and no error) when it holds objects.
func (s *Store) recreateLocked(ctx context.Context, bucket string) (bool, error) {
	// The first entry, if any, tells; cancelling stops the listing behind it.
	listCtx, cancel := context.WithCancel(ctx)
	obj, found := <-s.client.ListObjects(listCtx, bucket, minio.ListObjectsOptions{WithVersions: true, Recursive: true, MaxKeys: 1})
	cancel()
	if found && obj.Err != nil {
		return false, wrap(obj.Err, "listing bucket %s", bucket)
	} else if found {
		return false, nil
	}
	if err := s.client.RemoveBucket(ctx, bucket); err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
		return false, wrap(err, "removing the empty bucket %s to create it with object lock", bucket)
	}
	if err := s.ensureBucket(ctx, bucket, true); err != nil {
		return false, err
	}
	return s.objectLockEnabled(ctx, bucket)
}

// ensureRetention sets bucket's default retention (COMPLIANCE) unless it
// already keeps objects at least as long: retention only ever grows
// (art. 22: at least 5 years).
func (s *Store) ensureRetention(ctx context.Context, bucket string) error {
	want, unit := uint(s.retention.RetentionYears), minio.Years
	days := s.retention.RetentionYears * 366
	if want == 0 {
		want, unit, days = uint(s.retention.RetentionDays), minio.Days, s.retention.RetentionDays
	}
	if want == 0 {
		return nil
	}
	_, mode, validity, have, err := s.client.GetObjectLockConfig(ctx, bucket)
	if err != nil && minio.ToErrorResponse(err).Code != "ObjectLockConfigurationNotFoundError" {
		return wrap(err, "reading the retention of bucket %s", bucket)
	}
	if mode != nil && *mode == minio.Compliance && validity != nil && have != nil {
		current := int(*validity)
		if *have == minio.Years {
			current *= 366
		}
		if current >= days {
			return nil
		}
	}
	compliance := minio.Compliance
	return wrap(s.client.SetObjectLockConfig(ctx, bucket, &compliance, &want, &unit), "setting the retention of bucket %s", bucket)
}

// newPresigner is a client for the address phones reach. It only signs:
// with the region given it never asks the store anything.
func newPresigner(o Options) (*minio.Client, error) {
	endpoint, secure := o.PublicEndpoint, o.Secure
	if endpoint == "" {
		endpoint = o.Endpoint
	}
	if u, err := url.Parse(endpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: secure,
		Region: o.Region,
	})
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "MinIO public endpoint %q is invalid", o.PublicEndpoint)
	}
	return client, nil
}

// ensureBucket creates bucket unless it exists. A concurrent creation by
// another instance counts as success.
func (s *Store) ensureBucket(ctx context.Context, bucket string, locking bool) error {
	exists, err := s.client.BucketExists(ctx, bucket)
	if err != nil {
		return wrap(err, "checking bucket %s", bucket)
	}
	if exists {
		return nil
	}
	err = s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.region, ObjectLocking: locking})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return nil
	}
	return wrap(err, "creating bucket %s", bucket)
}

// objectLockEnabled reports whether bucket has object lock enabled.
func (s *Store) objectLockEnabled(ctx context.Context, bucket string) (bool, error) {
	status, _, _, _, err := s.client.GetObjectLockConfig(ctx, bucket)
	if minio.ToErrorResponse(err).Code == "ObjectLockConfigurationNotFoundError" {
		return false, nil
	} else if err != nil {
		return false, wrap(err, "reading the object lock configuration of bucket %s", bucket)
	}
	return status == "Enabled", nil
}

// EvidenceBucket returns the name of the evidence bucket.
func (s *Store) EvidenceBucket() string { return s.evidence }

// DocumentsBucket returns the name of the documents bucket.
func (s *Store) DocumentsBucket() string { return s.documents }

// Client returns the underlying MinIO client for code inside storage (such
// as storage/storagetest); everything else goes through Store's methods.
func (s *Store) Client() *minio.Client { return s.client }

// wrap translates err and gives it a message saying what was being done,
// keeping the translated code; nil stays nil.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return backend.Wrap(err, backend.ErrorCode(translate(err)), "MinIO: "+format, args...)
}
