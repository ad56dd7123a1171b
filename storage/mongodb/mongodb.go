// Package mongodb stores suiji's documents in MongoDB (FerretDB in local
// stacks and tests): the connection, index creation, the bson models and the
// repositories that implement backend's service interfaces.
//
// It is the only package that knows about bson tags and the MongoDB driver's
// errors; every error it returns is a *backend.Error. It imports backend but
// must not import mobile-api or any other storage package, and it writes only
// to the portable subset FerretDB v1 shares with MongoDB: single-document
// atomic writes, unique indexes, no transactions, no TTL or partial indexes.
package mongodb

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
)

// serverSelectionTimeout bounds how long any operation waits for a reachable
// server, so that a missing MongoDB is reported within seconds rather than the
// driver's default of 30. A serverSelectionTimeoutMS in the connection string
// overrides it.
const serverSelectionTimeout = 5 * time.Second

// Options says where the database is.
type Options struct {
	// URI is a MongoDB connection string (mongodb:// or mongodb+srv://).
	URI string
	// Database is the name of the database suiji uses.
	Database string
	// Timeout bounds every operation (the driver's client-side operation
	// timeout), whatever the caller's context says; 0 leaves operations
	// bounded only by their contexts. A timeoutMS in the connection string
	// overrides it.
	Timeout time.Duration
}

// DB is a connection to suiji's MongoDB database. It is safe for concurrent
// use; open one per process and close it on shutdown.
type DB struct {
	client *mongo.Client
	db     *mongo.Database
	addr   string      // the URI without credentials or options, for messages
	feeds  *feedMirror // the task feeds as this instance last read them
	// itemLists are the tasks' item lists this DB has seen stored
	// (itemlists.go).
	itemLists itemListCache
	// folding is held while this DB folds the task feeds' log behind an
	// append (one fold at a time; see TaskFeedStore.fold); foldsStopped,
	// set under it by Close and Drop, ends them.
	folding      sync.Mutex
	foldsStopped bool

	engineMu sync.Mutex
	engine   string // "mongodb" or "ferretdb" once asked (FerretDB)
}

// Open connects to MongoDB and pings it. It returns EINVALID when the options
// are unusable and EUNAVAILABLE, naming MongoDB and the address tried, when no
// server answers within a few seconds.
func Open(ctx context.Context, o Options) (*DB, error) {
	addr := redactURI(o.URI)
	if o.URI == "" || o.Database == "" {
		return nil, backend.Errorf(backend.EINVALID, "MongoDB needs a connection string and a database name")
	}
	// Defaults first, so that the connection string can override them.
	opts := options.Client().
		SetAppName("suiji").
		SetServerSelectionTimeout(serverSelectionTimeout).
		SetConnectTimeout(serverSelectionTimeout)
	if o.Timeout > 0 {
		opts.SetTimeout(o.Timeout)
	}
	client, err := mongo.Connect(opts.ApplyURI(o.URI))
	if err != nil {
		return nil, backend.Wrap(err, backend.EINVALID, "MongoDB connection string %s is invalid", addr)
	}
	db := &DB{client: client, db: client.Database(o.Database), addr: addr, feeds: &feedMirror{}}
	if err := db.Ping(ctx); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return db, nil
}

// Ping returns nil when the database answers and EUNAVAILABLE, naming MongoDB
// and its address, when it does not (unreachable, too slow, or refusing the
// credentials).
func (db *DB) Ping(ctx context.Context) error {
	err := db.client.Ping(ctx, nil)
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return backend.Wrap(err, backend.EUNAVAILABLE, "MongoDB unreachable at %s", db.addr)
	default: // e.g. wrong credentials: the server answers but cannot be used
		return backend.Wrap(err, backend.EUNAVAILABLE, "MongoDB at %s failed a ping", db.addr)
	}
}

// Close disconnects from the server, waiting for in-use connections until ctx
// ends.
func (db *DB) Close(ctx context.Context) error {
	db.stopFolds()
	return translate(db.client.Disconnect(ctx))
}

// stopFolds waits for a fold behind an append to end and starts no more,
// so that none writes after Close (or recreates a dropped database).
func (db *DB) stopFolds() {
	db.folding.Lock()
	db.foldsStopped = true
	db.folding.Unlock()
}

// Drop deletes the whole database with every collection in it. Tests use it
// to clean up their own database; nothing in the server calls it.
func (db *DB) Drop(ctx context.Context) error {
	db.stopFolds()
	err := translate(db.db.Drop(ctx))
	db.itemLists.forget()
	return err
}

// Name returns the name of the database.
func (db *DB) Name() string { return db.db.Name() }

// Database returns the driver's handle on the database. It exists for code
// inside storage (such as storage/storagetest); everything else goes through
// repositories.
func (db *DB) Database() *mongo.Database { return db.db }

// redactURI returns uri without user information, options or path beyond the
// first slash, so that it can appear in messages and logs: passwords and
// certificate key passwords may live in either.
func redactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "(a connection string without a scheme)"
	}
	hosts, _, _ := strings.Cut(rest, "/")
	hosts, _, _ = strings.Cut(hosts, "?")
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		hosts = hosts[i+1:]
	}
	return scheme + "://" + hosts + "/"
}

// FerretDB reports whether the server is FerretDB rather than MongoDB
// (its buildInfo names a ferretdbVersion), asking once per DB.
func (db *DB) FerretDB(ctx context.Context) (bool, error) {
	db.engineMu.Lock()
	defer db.engineMu.Unlock()
	if db.engine != "" {
		return db.engine == "ferretdb", nil
	}
	var info bson.M
	if err := db.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, translate(err)
	}
	db.engine = "mongodb"
	if _, ok := info["ferretdbVersion"]; ok {
		db.engine = "ferretdb"
	}
	return db.engine == "ferretdb", nil
}
