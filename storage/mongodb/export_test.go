package mongodb

import "context"

// Translate exposes translate to the external tests, which cannot live in
// this package because they use storage/storagetest (which imports it).
var Translate = translate

// IndexCount is the number of rows in the index table. It is a function
// because rows are also added by init functions, which run after package
// variables are initialised.
func IndexCount() int { return len(indexes) }

// StreamHead is the _id of the whole stream's head in inbox_heads.
const StreamHead = streamHead

// Head exposes a head's Seq to the external tests.
func (s *NotificationStore) Head(ctx context.Context, id string) (int64, bool, error) {
	return s.head(ctx, id)
}

// HeadBucket exposes the document that keeps a user's head.
var HeadBucket = headBucket
