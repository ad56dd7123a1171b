package mongodb

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"suiji/backend"
)

// A task's items — each with its legal basis, content and method — are
// the plan's items as they were when the task was made, and a plan gives
// every one of its tasks the same list. Stored in each task, a dispatch of
// a thousand tasks wrote the list a thousand times: with a dozen items,
// the task documents were three times larger than with one, and so was
// their write (FerretDB spends per value and byte). So a list is stored
// once, in tasks_item_lists, under an id made from its content, and a task
// stores that id (items_ref) instead of the list.
//
// A list's id is its content's hash, so a stored list never changes: the
// ids a DB has seen stored are kept in memory (itemListCache), and a read
// of a thousand tasks of one plan reads one list, or none. A list is
// stored before any task that refers to it, so a task never names a list
// that is not there, whichever instance reads it. Tasks stored before
// this (items inline) read as they were.
//
// The name sorts after "tasks": a backup copies collections in name order
// while writers go on (Backup), and lists are only ever added, so every
// task a backup holds finds its list there. EnsureIndexes creates the
// collection, so that it is there to be copied even when a backup starts
// before the first list is stored.
const itemListsCollection = "tasks_item_lists"

// ensureItemLists creates the lists' collection unless it exists.
func (db *DB) ensureItemLists(ctx context.Context) error {
	names, err := db.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: itemListsCollection}})
	if err != nil {
		return translate(err)
	}
	if len(names) > 0 {
		return nil
	}
	err = db.db.CreateCollection(ctx, itemListsCollection)
	var ce mongo.CommandError
	if errors.As(err, &ce) && ce.Code == namespaceExists { // created meanwhile by another instance
		return nil
	}
	return translate(err)
}

// namespaceExists is the server's error code for a collection created
// twice.
const namespaceExists = 48

// itemListModel is one stored list.
type itemListModel struct {
	ID        string          `bson:"_id"`
	Items     []taskItemModel `bson:"items"`
	CreatedAt time.Time       `bson:"created_at"`
}

// itemListCacheSize bounds the lists one DB keeps in memory: a year's
// plans have a few dozen, and targeted tasks may add one each. A full
// cache is emptied and filled again (a list costs one read to get back).
const itemListCacheSize = 512

// itemListCache holds the lists this DB knows to be stored, by id.
type itemListCache struct {
	mu    sync.Mutex
	lists map[string][]taskItemModel
}

func (c *itemListCache) get(id string) ([]taskItemModel, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	items, ok := c.lists[id]
	return items, ok
}

func (c *itemListCache) put(id string, items []taskItemModel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lists == nil || len(c.lists) >= itemListCacheSize {
		c.lists = map[string][]taskItemModel{}
	}
	c.lists[id] = items
}

// forget empties the cache: the database's lists may be gone (dropped,
// or about to be restored).
func (c *itemListCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists = nil
}

// itemListID is a list's id: a hash of its BSON encoding, which the
// model's field order fixes; and the list as a read of it returns
// (empty fields left out), which is what the cache must hold.
func itemListID(items []taskItemModel) (string, []taskItemModel, error) {
	type list struct {
		Items []taskItemModel `bson:"items"`
	}
	raw, err := bson.Marshal(list{items})
	if err != nil {
		return "", nil, backend.Wrap(err, backend.EINTERNAL, "encoding a task's items")
	}
	var read list
	if err := bson.Unmarshal(raw, &read); err != nil {
		return "", nil, backend.Wrap(err, backend.EINTERNAL, "decoding a task's items")
	}
	return backend.HashID("task-items", string(raw)), read.Items, nil
}

// shareItems replaces the items of each model by a reference to the
// stored list, storing each list it has not seen stored first. A task
// without items keeps none.
func (db *DB) shareItems(ctx context.Context, models ...*taskModel) error {
	// A dispatch's thousand tasks have one list: compare with the lists
	// met so far before hashing (a few, so that many distinct lists
	// cost a hash each rather than a scan each).
	type met struct {
		items []taskItemModel
		id    string
	}
	var recent []met
	for _, m := range models {
		if len(m.Items) == 0 {
			continue
		}
		i := slices.IndexFunc(recent, func(r met) bool { return reflect.DeepEqual(r.items, m.Items) })
		if i < 0 {
			id, stored, err := itemListID(m.Items)
			if err != nil {
				return err
			}
			if err := db.storeItemList(ctx, id, stored); err != nil {
				return err
			}
			recent = append(recent, met{m.Items, id})
			if len(recent) > 4 {
				recent = recent[1:]
			}
			i = len(recent) - 1
		}
		m.Items, m.ItemsRef = nil, recent[i].id
	}
	return nil
}

// sharedTaskModel is t's model for a write of the task alone, its items
// by reference.
func (db *DB) sharedTaskModel(ctx context.Context, t *backend.Task) (*taskModel, error) {
	m := toTaskModel(t)
	if err := db.shareItems(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// storeItemList stores list id unless this DB has seen it stored. Another
// writer storing the same list first is not an error: it is the same.
func (db *DB) storeItemList(ctx context.Context, id string, items []taskItemModel) error {
	if _, ok := db.itemLists.get(id); ok {
		return nil
	}
	_, err := db.collection(itemListsCollection).InsertOne(ctx, itemListModel{ID: id, Items: items, CreatedAt: time.Now().UTC()})
	if err = translate(err); err != nil && backend.ErrorCode(err) != backend.ECONFLICT {
		return backend.Wrap(err, backend.ErrorCode(err), "storing a task's items")
	}
	db.itemLists.put(id, items)
	return nil
}

// resolveItems puts back the items of each model that refers to a
// stored list, reading the lists it has not seen in one query.
func (db *DB) resolveItems(ctx context.Context, models ...*taskModel) error {
	lists := map[string][]taskItemModel{}
	var missing []any
	for _, m := range models {
		if len(m.Items) > 0 {
			// A task with items of its own keeps them: written by a
			// version before lists, or by one rolled back to (which
			// knows no ref), after this one's.
			m.ItemsRef = ""
		}
		if _, seen := lists[m.ItemsRef]; m.ItemsRef == "" || seen {
			continue
		}
		items, ok := db.itemLists.get(m.ItemsRef)
		if !ok {
			missing = append(missing, m.ItemsRef)
		}
		lists[m.ItemsRef] = items
	}
	read, err := findIn(ctx, db.collection(itemListsCollection), "_id", missing, nil, func(m *itemListModel) *itemListModel { return m })
	if err != nil {
		return err
	}
	for _, l := range read {
		lists[l.ID] = l.Items
		db.itemLists.put(l.ID, l.Items)
	}
	for _, m := range models {
		if m.ItemsRef == "" {
			continue
		}
		items := lists[m.ItemsRef]
		if items == nil {
			// A list is stored before its tasks: this one is lost, and
			// so may be others this DB believes stored (a restore or a
			// drop elsewhere): the next writes store theirs again.
			db.itemLists.forget()
			return backend.Errorf(backend.EINTERNAL, "task %s: its items (list %s) are missing from %s", m.ID, m.ItemsRef, itemListsCollection)
		}
		m.Items, m.ItemsRef = items, ""
	}
	return nil
}
