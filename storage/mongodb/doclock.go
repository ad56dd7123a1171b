package mongodb

import (
	"fmt"
	"hash/maphash"
	"sync"
)

// FerretDB v1 does not isolate concurrent updates of one document: it reads
// the document, applies the update in its own process and writes the whole
// document back, so two updates that overlap lose one another's changes —
// even $set of different fields — and a replace filtered on the version
// read (the compare-and-set every versioned record uses) can let several
// writers win. MongoDB applies each update atomically, and there the
// version filter alone decides.
//
// lockDocument makes this package's updates of one document take turns
// within the process, which gives FerretDB the same per-document atomicity
// for everything one server does (the local stack, the tests). Several
// server instances sharing a FerretDB can still lose updates: production
// runs MongoDB, as README says. Locks are striped by document, so unrelated
// documents rarely wait for each other, and held only for one update call.
var docLocks [256]sync.Mutex

var docSeed = maphash.MakeSeed()

// lockDocument locks document id of c and returns the unlock.
func lockDocument(c collection, id any) (unlock func()) {
	m := &docLocks[docStripe(c, id)]
	m.Lock()
	return m.Unlock
}

// lockDocuments locks every document of ids (a bulk write's batch) and
// returns the unlock. Stripes are taken in ascending order, so two bulk
// writers cannot deadlock, and a single-document holder never waits while
// holding.
func lockDocuments[T any](c collection, ids []T) (unlock func()) {
	var stripes [len(docLocks)]bool
	for _, id := range ids {
		stripes[docStripe(c, id)] = true
	}
	for i, take := range stripes {
		if take {
			docLocks[i].Lock()
		}
	}
	return func() {
		for i, taken := range stripes {
			if taken {
				docLocks[i].Unlock()
			}
		}
	}
}

func docStripe(c collection, id any) uint64 {
	var h maphash.Hash
	h.SetSeed(docSeed)
	h.WriteString(c.Database().Name())
	h.WriteString("\x00" + c.Name() + "\x00")
	h.WriteString(fmt.Sprint(id))
	return h.Sum64() % uint64(len(docLocks))
}
