package mongodb

import "context"

// Translate exposes translate to the external tests, which cannot live in
// this package because they use storage/storagetest (which imports it).
var Translate = translate

// StreamHead is the _id of the whole stream's head in inbox_heads.
const StreamHead = streamHead

// Head exposes a head's Seq to the external tests.
func (s *NotificationStore) Head(ctx context.Context, id string) (int64, bool, error) {
	return s.head(ctx, id)
}

// HeadBucket exposes the document that keeps a user's head.
var HeadBucket = headBucket

// Fold folds the task feeds' log into every bucket, as an append does
// behind itself every foldEvery appends.
func (s *TaskFeedStore) Fold(ctx context.Context) error { return s.fold(ctx, nil) }

// FoldEvery is how many appends the log gathers between folds.
const FoldEvery = foldEvery
