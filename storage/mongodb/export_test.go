package mongodb

// Translate exposes translate to the external tests, which cannot live in
// this package because they use storage/storagetest (which imports it).
var Translate = translate

// IndexCount is the number of rows in the index table.
var IndexCount = len(indexes)
