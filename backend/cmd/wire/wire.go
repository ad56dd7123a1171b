// Package wire is the one place where suiji's object graph is built: it
// opens the backing services (MongoDB, Redis, MinIO) and builds every use
// case on them. The binary (backend/cmd/suiji) and the API tests
// (mobile-api) both build their services here, so a test exercises the
// same graph production runs.
//
// It is the only package besides the binary that imports both the storage
// adapters and the use cases; nothing imports it but front ends' wiring
// roots and their tests.
package wire

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/app"
	"suiji/backend/audit"
	"suiji/backend/auth"
	"suiji/backend/config"
	"suiji/backend/directory"
	"suiji/backend/itemlist"
	"suiji/backend/notify"
	"suiji/backend/plans"
	"suiji/backend/results"
	"suiji/backend/roster"
	"suiji/backend/tasks"
	"suiji/storage/cache"
	"suiji/storage/mongodb"
	"suiji/storage/objects"
	"suiji/storage/push"
)

// Stores are the open connections to the backing services.
type Stores struct {
	Mongo   *mongodb.DB
	Cache   *cache.Cache
	Objects *objects.Store
	// Push is the push transport; nil when push is off (no FCM
	// credentials or endpoint configured): the inbox and live events
	// still work.
	Push backend.PushSender
}

// Open connects to each service named by cfg and prepares it (indexes,
// buckets). Any failure names the service and its variable; whatever was
// opened is closed again.
func Open(ctx context.Context, cfg *config.Config) (_ *Stores, err error) {
	st := &Stores{}
	defer func() {
		if err != nil {
			st.Close(slog.New(slog.DiscardHandler))
		}
	}()
	if st.Mongo, err = mongodb.Open(ctx, mongodb.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Timeout: cfg.MongoTimeout}); err != nil {
		return nil, fmt.Errorf("connecting to MongoDB (SUIJI_MONGO_URI): %w", err)
	}
	if err = st.Mongo.EnsureIndexes(ctx); err != nil {
		return nil, fmt.Errorf("creating MongoDB indexes: %w", err)
	}
	if st.Cache, err = cache.Open(ctx, cache.Options{URL: cfg.RedisURL, Prefix: cfg.RedisPrefix}); err != nil {
		return nil, fmt.Errorf("connecting to Redis (SUIJI_REDIS_URL): %w", err)
	}
	st.Objects, err = objects.Open(ctx, objects.Options{
		Endpoint:        cfg.MinIOEndpoint,
		AccessKey:       cfg.MinIOAccessKey,
		SecretKey:       cfg.MinIOSecretKey,
		Secure:          cfg.MinIOSecure,
		Region:          cfg.MinIORegion,
		EvidenceBucket:  cfg.EvidenceBucket,
		DocumentsBucket: cfg.DocumentsBucket,
		PublicEndpoint:  cfg.MinIOPublicEndpoint,
		RetentionYears:  cfg.EvidenceRetentionYears,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to MinIO (SUIJI_MINIO_ENDPOINT): %w", err)
	}
	if err = st.Objects.EnsureBuckets(ctx); err != nil {
		return nil, fmt.Errorf("creating MinIO buckets: %w", err)
	}
	if st.Push, err = OpenPush(ctx, cfg); err != nil {
		return nil, err
	}
	return st, nil
}

// OpenPush prepares the FCM sender when credentials or an endpoint (a
// relay or test server) are configured, and returns nil (push off)
// otherwise.
func OpenPush(ctx context.Context, cfg *config.Config) (backend.PushSender, error) {
	if cfg.FCMCredentialsFile == "" && cfg.FCMEndpoint == "" {
		return nil, nil
	}
	sender, err := push.Open(ctx, push.Options{CredentialsFile: cfg.FCMCredentialsFile, Endpoint: cfg.FCMEndpoint, ProjectID: cfg.FCMProjectID})
	if err != nil {
		return nil, fmt.Errorf("push (SUIJI_FCM_CREDENTIALS_FILE, SUIJI_FCM_ENDPOINT, SUIJI_FCM_PROJECT_ID): %w", err)
	}
	return sender, nil
}

// Dependencies lists the services /readyz reports on.
func (st *Stores) Dependencies() []backend.Dependency {
	return []backend.Dependency{
		{Name: "mongodb", Pinger: st.Mongo},
		{Name: "redis", Pinger: st.Cache},
		{Name: "minio", Pinger: st.Objects},
	}
}

// Close closes the connections, logging (not returning) failures: it runs
// on the way out, when nothing better can be done.
func (st *Stores) Close(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st.Mongo != nil {
		if err := st.Mongo.Close(ctx); err != nil {
			logger.Warn("closing MongoDB", slog.Any("error", err))
		}
	}
	if st.Cache != nil {
		if err := st.Cache.Close(); err != nil {
			logger.Warn("closing Redis", slog.Any("error", err))
		}
	}
}

// Services builds every use case on the open stores. now is the clock all
// of them share (time.Now in UTC in production; tests may pass their own).
//
// Reference data is seeded by the services themselves on first use
// (Zezhou's towns, the default qualifications), so a fresh database needs
// no seed step and several instances starting at once seed each entry once
// (unique indexes decide).
func Services(st *Stores, cfg *config.Config, now func() time.Time) app.Services {
	db := st.Mongo
	recorder := &audit.Recorder{Store: db.AuditEvents(), Outbox: db.AuditOutbox(), Now: now, Deferred: logDeferred}
	sessions := st.Cache.Sessions()
	// The evidence bucket, when the stores include MinIO (API tests that
	// need no evidence leave it out).
	var evidence backend.EvidenceObjects
	var archive backend.ArchiveObjects
	if st.Objects != nil {
		evidence, archive = st.Objects, st.Objects
	}
	// Inbox first, then push, then live events to every instance.
	notifier := &notify.Service{
		Store: db.Notifications(), Feeds: db.TaskFeeds(), Outbox: db.PushOutbox(), Bus: cache.NewEventBus(st.Cache), Devices: db.Devices(), Push: st.Push,
		Audit: recorder, Now: now,
	}
	// Towns, departments and enterprises (art. 6, 7, 13, 16); its index of
	// the enterprises also serves the dispatch's copies of them.
	dir := &directory.Service{
		Towns: db.Towns(), Departments: db.Departments(), Enterprises: db.Enterprises(),
		Versions: db.Versions(), Audit: recorder, Now: now,
	}
	// One password checker for sign-ins and password changes: one throttle,
	// one set of argon2id slots.
	passwords := auth.NewPasswords(cache.NewLoginThrottle(st.Cache, cache.ThrottleOptions{}), 0)
	svc := app.Services{
		Auth: &auth.Service{
			Users:        db.Users(),
			Sessions:     sessions,
			Stamps:       sessions, // users in memory: users change through StampedUsers below
			Passwords:    passwords,
			Audit:        recorder,
			Key:          []byte(cfg.JWTKey),
			Now:          now,
			AccessTTL:    auth.DefaultAccessTTL,
			RefreshTTL:   auth.DefaultRefreshTTL,
			RefreshGrace: auth.DefaultRefreshGrace,
		},
		Accounts: &accounts.Service{
			Users: auth.StampedUsers{UserStore: db.Users(), Stamps: sessions}, Devices: db.Devices(), Sessions: sessions, Passwords: passwords, Locks: st.Cache.Locks(), Inbox: db.Notifications(), Audit: recorder, Now: now,
		},
		Audit:       db.AuditEvents(),
		Recorder:    recorder,
		Idempotency: cache.NewIdempotencyStore(st.Cache),
		// Towns, departments and enterprises (art. 6, 7, 13, 16).
		Directory: dir,
		// Inspectors and qualifications (art. 12, 15).
		Roster: &roster.Service{
			Inspectors: db.Inspectors(), Qualifications: db.Qualifications(), Users: db.Users(),
			Departments: db.Departments(), Enterprises: db.Enterprises(),
			Versions: db.Versions(), Audit: recorder, Now: now,
		},
		// The yearly item lists (art. 9, 10).
		Items: &itemlist.Service{
			Items: db.Items(), Qualifications: db.Qualifications(), Departments: db.Departments(),
			Versions: db.Versions(), Audit: recorder, Now: now,
		},
		// Plans and their verifiable draws (art. 8, 14, 15, 16, 19).
		Plans: &plans.Service{
			Plans: db.Plans(), Draws: db.Draws(), Pools: db.Pool(), Enterprises: db.Enterprises(),
			Inspectors: db.Inspectors(), Items: db.Items(), Departments: db.Departments(),
			Towns: db.Towns(), Locks: st.Cache.Locks(), Audit: recorder, Now: now, Rand: plans.NewRandReader(),
			Tasks: db.Tasks(), Results: db.TaskResults(), SeedKey: cfg.SeedKey, NonCooperation: db.NonCooperation(),
		},
		// Anyone may read the portal and /public; one address at a time
		// may not monopolise them.
		PublicLimit: cache.NewRequestLimiter(st.Cache, "public", cache.PublicRequestLimit, cache.PublicRequestWindow),
		// Dispatch, targeted tasks and deadlines (art. 2, 18, 21, 24, 27).
		Tasks: &tasks.Service{
			Tasks: db.Tasks(), Plans: db.Plans(), Draws: db.Draws(), Enterprises: db.Enterprises(), Directory: dir,
			Inspectors: db.Inspectors(), Items: db.Items(), Departments: db.Departments(), Users: db.Users(),
			Calendar: db.Calendar(), Versions: db.Versions(), Replacements: db.Replacements(), SeedKey: cfg.SeedKey, Rand: plans.NewRandReader(),
			Findings: db.Findings(), NonCooperation: db.NonCooperation(), Evidence: db.Evidence(), Objects: evidence, Inbox: db.Notifications(), Feeds: db.TaskFeeds(),
			Limits: tasks.Limits{
				CheckInRadiusM: float64(cfg.CheckInRadiusM), MaxPhoto: cfg.EvidenceMaxPhoto, MaxVideo: cfg.EvidenceMaxVideo,
				MaxOther: cfg.EvidenceMaxOther, UploadTTL: cfg.UploadURLTTL, AbandonAfter: cfg.UploadAbandonAfter,
			},
			Locks: st.Cache.Locks(), Notifier: notifier, Audit: recorder, Now: now,
		},
		Notify: notifier,
	}
	// Review, feedback, publication, dispositions, statistics and the
	// archive (art. 16, 21, 22, 24, 25), on the tasks' workflow.
	svc.Results = &results.Service{
		Results: db.TaskResults(), Public: db.PublicResults(), Tasks: db.Tasks(), Plans: db.Plans(),
		Draws: db.Draws(), Enterprises: db.Enterprises(), Departments: db.Departments(), Users: db.Users(),
		Workflow: svc.Tasks, Shares: svc.Plans, Notifier: notifier, Audit: recorder, Now: now,
		// The statutory documents and the WORM archive (art. 22).
		Archive: db.Archive(), Objects: archive, Evidence: db.Evidence(), Findings: db.Findings(),
		NonCooperation: db.NonCooperation(), Fonts: cfg.PDFFonts,
		Letterhead: results.Letterhead{Bureau: cfg.BureauName, Reconsideration: cfg.ReconsiderationBody, Court: cfg.Court, PublicURL: cfg.PublicURL},
	}
	return svc
}

// logDeferred logs an audit event left in the outbox because its append
// failed; the binary's recovery loop appends it later.
func logDeferred(ctx context.Context, e *backend.AuditEvent, err error) {
	slog.Default().ErrorContext(ctx, "audit: event left for recovery",
		slog.String("action", e.Action), slog.String("object_id", e.ObjectID),
		slog.String("request_id", e.RequestID), slog.Any("error", err))
}

// OpenArchive connects to what the archive commands (suiji archive)
// read — MongoDB and MinIO — and prepares nothing: they only read, and
// must be able to read a store whatever state its buckets are in.
func OpenArchive(ctx context.Context, cfg *config.Config) (_ *Stores, err error) {
	st := &Stores{}
	if st.Mongo, err = mongodb.Open(ctx, mongodb.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Timeout: cfg.MongoTimeout}); err != nil {
		return nil, fmt.Errorf("connecting to MongoDB (SUIJI_MONGO_URI): %w", err)
	}
	st.Objects, err = objects.Open(ctx, objects.Options{
		Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey, Secure: cfg.MinIOSecure,
		Region: cfg.MinIORegion, EvidenceBucket: cfg.EvidenceBucket, DocumentsBucket: cfg.DocumentsBucket,
		PublicEndpoint: cfg.MinIOPublicEndpoint, RetentionYears: cfg.EvidenceRetentionYears,
	})
	if err != nil {
		st.Close(slog.New(slog.DiscardHandler))
		return nil, fmt.Errorf("connecting to MinIO (SUIJI_MINIO_ENDPOINT): %w", err)
	}
	return st, nil
}

// ArchiveService is the results use case as the archive commands use it
// (listing, verifying and exporting the archive) on stores opened by
// OpenArchive: no cache, no notifications; tasks are read as the actor
// of the context may see them.
func ArchiveService(st *Stores, cfg *config.Config, now func() time.Time) *results.Service {
	db := st.Mongo
	return &results.Service{
		Results: db.TaskResults(), Tasks: db.Tasks(), Plans: db.Plans(), Users: db.Users(),
		Workflow: &tasks.Service{Tasks: db.Tasks()},
		Audit:    &audit.Recorder{Store: db.AuditEvents(), Outbox: db.AuditOutbox(), Now: now, Deferred: logDeferred},
		Archive:  db.Archive(), Objects: st.Objects, Evidence: db.Evidence(), Findings: db.Findings(),
		NonCooperation: db.NonCooperation(), Now: now, Fonts: cfg.PDFFonts,
		Letterhead: results.Letterhead{Bureau: cfg.BureauName, Reconsideration: cfg.ReconsiderationBody, Court: cfg.Court, PublicURL: cfg.PublicURL},
	}
}
