package cache

// Translate exposes translate to the external tests, which cannot live in
// this package because they use storage/storagetest (which imports it).
var Translate = translate
