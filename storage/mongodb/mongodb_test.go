package mongodb_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"suiji/backend"
	"suiji/storage/mongodb"
	"suiji/storage/storagetest"
)

// indexSet lists "collection.name unique keys" for every index in the
// database except _id's, sorted.
func indexSet(t *testing.T, db *mongodb.DB) []string {
	t.Helper()
	ctx := t.Context()
	names, err := db.Database().ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var set []string
	for _, coll := range names {
		specs, err := db.Database().Collection(coll).Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range specs {
			if s.Name == "_id_" {
				continue
			}
			unique := s.Unique != nil && *s.Unique
			set = append(set, coll+"."+s.Name+" unique="+map[bool]string{true: "yes", false: "no"}[unique]+" "+s.KeysDocument.String())
		}
	}
	sort.Strings(set)
	return set
}

// keptIndexes is how many indexes EnsureIndexes keeps on db's server.
func keptIndexes(t *testing.T, db *mongodb.DB) int {
	t.Helper()
	kept, err := db.Indexes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(kept)
}

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	db := storagetest.Mongo(t) // ensures the indexes once
	ferret, err := db.FerretDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first := indexSet(t, db)
	if len(first) != keptIndexes(t, db) {
		t.Fatalf("after the first EnsureIndexes got %d indexes, want %d: %q", len(first), keptIndexes(t, db), first)
	}
	family := `refresh_tokens.family unique=no {"family": {"$numberInt":"1"}}`
	for _, want := range []string{
		`users.username_unique unique=yes {"username": {"$numberInt":"1"}}`,
		`items.year_code_unique unique=yes {"year": {"$numberInt":"1"},"code": {"$numberInt":"1"}}`,
		family,
	} {
		if want == family && ferret {
			continue // see TestEnsureIndexesKeepsOnlyUniqueOnFerretDB
		}
		if !slices.Contains(first, want) {
			t.Errorf("index set lacks %s; got %q", want, first)
		}
	}
	if err := db.EnsureIndexes(t.Context()); err != nil {
		t.Fatalf("second EnsureIndexes: %v", err)
	}
	if second := indexSet(t, db); strings.Join(second, "\n") != strings.Join(first, "\n") {
		t.Errorf("index set changed on the second run:\nfirst  %q\nsecond %q", first, second)
	}
}

func TestEnsureIndexesConcurrently(t *testing.T) {
	db := storagetest.Mongo(t)
	if err := db.Drop(t.Context()); err != nil { // start from nothing
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = db.EnsureIndexes(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if got := indexSet(t, db); len(got) != keptIndexes(t, db) {
		t.Errorf("got %d indexes after concurrent runs, want %d: %q", len(got), keptIndexes(t, db), got)
	}
}

// On FerretDB v1 a non-unique index is write cost and no read benefit
// (see EnsureIndexes): one made by an earlier version is dropped, and
// every unique one is kept. On MongoDB every index is kept.
func TestEnsureIndexesKeepsOnlyUniqueOnFerretDB(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	ferret, err := db.FerretDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// As an earlier version left it: the tasks' plan_id index.
	if _, err := db.Database().Collection("tasks").Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "plan_id", Value: 1}}, Options: options.Index().SetName("plan_id"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	set := indexSet(t, db)
	planID := `tasks.plan_id unique=no {"plan_id": {"$numberInt":"1"}}`
	if got := slices.Contains(set, planID); got == ferret {
		t.Errorf("FerretDB %t: tasks.plan_id present %t after EnsureIndexes; got %q", ferret, got, set)
	}
	for _, want := range []string{
		`notifications.seq_unique unique=yes {"seq": {"$numberInt":"1"}}`,
		`devices.token_unique unique=yes {"token": {"$numberInt":"1"}}`,
	} {
		if !slices.Contains(set, want) {
			t.Errorf("index set lacks %s; got %q", want, set)
		}
	}
	for _, ix := range set {
		if ferret && strings.Contains(ix, "unique=no") {
			t.Errorf("FerretDB keeps a non-unique index: %s", ix)
		}
	}
}

func TestEnsureIndexesReportsAConflictingDefinition(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	users := db.Database().Collection("users")
	if err := users.Indexes().DropOne(ctx, "username_unique"); err != nil {
		t.Fatal(err)
	}
	// Same name, other keys: an older or hand-made definition.
	if _, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "username", Value: 1}, {Key: "department_id", Value: 1}},
		Options: options.Index().SetName("username_unique").SetUnique(true),
	}); err != nil {
		t.Fatal(err)
	}
	err := db.EnsureIndexes(ctx)
	if code := backend.ErrorCode(err); code != backend.EINTERNAL {
		t.Fatalf("EnsureIndexes over a conflicting index: code %q (%v), want EINTERNAL", code, err)
	}
	if !strings.Contains(err.Error(), "username_unique") {
		t.Errorf("error does not name the index: %v", err)
	}
}

func TestDuplicateKeyIsConflict(t *testing.T) {
	db := storagetest.Mongo(t)
	ctx := t.Context()
	users := db.Database().Collection("users")
	if _, err := users.InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "username", Value: "zhang.san"}}); err != nil {
		t.Fatal(err)
	}
	_, err := users.InsertOne(ctx, bson.D{{Key: "_id", Value: "u2"}, {Key: "username", Value: "zhang.san"}})
	if err == nil {
		t.Fatal("second insert of the same username succeeded; the unique index is missing")
	}
	if got := backend.ErrorCode(mongodb.Translate(err)); got != backend.ECONFLICT {
		t.Errorf("duplicate username: code %q, want ECONFLICT (driver error %v)", got, err)
	}

	// A compound unique key: the same code in another year is fine.
	items := db.Database().Collection("items")
	for i, doc := range []bson.D{
		{{Key: "year", Value: 2026}, {Key: "code", Value: "A01"}},
		{{Key: "year", Value: 2027}, {Key: "code", Value: "A01"}},
	} {
		if _, err := items.InsertOne(ctx, doc); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	_, err = items.InsertOne(ctx, bson.D{{Key: "year", Value: 2026}, {Key: "code", Value: "A01"}})
	if got := backend.ErrorCode(mongodb.Translate(err)); got != backend.ECONFLICT {
		t.Errorf("duplicate year+code: code %q, want ECONFLICT (%v)", got, err)
	}
}

func TestFindNothingIsNotFound(t *testing.T) {
	db := storagetest.Mongo(t)
	err := db.Database().Collection("users").FindOne(t.Context(), bson.D{{Key: "username", Value: "nobody"}}).Err()
	if got := backend.ErrorCode(mongodb.Translate(err)); got != backend.ENOTFOUND {
		t.Errorf("FindOne on nothing: code %q, want ENOTFOUND (%v)", got, err)
	}
	if !errors.Is(mongodb.Translate(err), mongo.ErrNoDocuments) {
		t.Error("translated error lost its cause")
	}
}

func TestPing(t *testing.T) {
	db := storagetest.Mongo(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{mongo.ErrNoDocuments, backend.ENOTFOUND},
		{context.DeadlineExceeded, backend.EUNAVAILABLE},
		{mongo.ErrClientDisconnected, backend.EUNAVAILABLE},
		{errors.New("something else"), backend.EINTERNAL},
		{backend.Errorf(backend.EINVALID, "already translated"), backend.EINVALID},
	} {
		if got := backend.ErrorCode(mongodb.Translate(tc.err)); got != tc.want {
			t.Errorf("translate(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	// Port 1 on loopback: nothing listens there, connections are refused.
	// The connection string shortens the wait; storagetest's tests check
	// the default.
	_, err := mongodb.Open(t.Context(), mongodb.Options{
		URI:      "mongodb://user:secret@127.0.0.1:1/?serverSelectionTimeoutMS=300",
		Database: "x",
	})
	if code := backend.ErrorCode(err); code != backend.EUNAVAILABLE {
		t.Fatalf("Open of a closed port: code %q (%v), want EUNAVAILABLE", code, err)
	}
	msg := backend.ErrorMessage(err)
	if !strings.Contains(msg, "MongoDB") || !strings.Contains(msg, "127.0.0.1:1") {
		t.Errorf("message %q does not name MongoDB and the address", msg)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v to give up; serverSelectionTimeoutMS=300 in the URI was ignored", d)
	}
}

// stallingRelay relays TCP to target until stall is called; from then on
// it keeps every connection open but passes nothing on, like a server that
// hangs mid-operation.
type stallingRelay struct {
	ln      net.Listener
	stalled chan struct{}
	once    sync.Once
}

func newStallingRelay(t *testing.T, target string) *stallingRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &stallingRelay{ln: ln, stalled: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go r.pipe(c, s)
			go r.pipe(s, c)
		}
	}()
	return r
}

func (r *stallingRelay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-r.stalled:
			<-make(chan struct{}) // hold the bytes for ever
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (r *stallingRelay) stall() { r.once.Do(func() { close(r.stalled) }) }

// TestOperationTimeoutBoundsEveryCall: with Options.Timeout, an operation
// against a server that stopped answering ends after about that long with
// EUNAVAILABLE, even when the caller's context has no deadline at all.
func TestOperationTimeoutBoundsEveryCall(t *testing.T) {
	cfg := storagetest.Config(t)
	u, err := url.Parse(cfg.MongoURI)
	if err != nil {
		t.Fatal(err)
	}
	relay := newStallingRelay(t, u.Host)
	db, err := mongodb.Open(t.Context(), mongodb.Options{URI: "mongodb://" + relay.ln.Addr().String() + "/", Database: "suiji_timeout_test", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	relay.stall()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := db.Users().FindUserByID(context.Background(), "anyone")
		done <- err
	}()
	select {
	case err := <-done:
		if backend.ErrorCode(err) != backend.EUNAVAILABLE {
			t.Errorf("error %v, want EUNAVAILABLE", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("the stalled call took %s", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call to a stalled server was still waiting after 10 s")
	}
}
