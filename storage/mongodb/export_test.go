package mongodb

// Translate exposes translate to the external tests, which cannot live in
// this package because they use storage/storagetest (which imports it).
var Translate = translate

// IndexCount is the number of rows in the index table. It is a function
// because rows are also added by init functions, which run after package
// variables are initialised.
func IndexCount() int { return len(indexes) }
