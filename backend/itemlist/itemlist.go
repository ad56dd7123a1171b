// Package itemlist is the yearly list of inspection items (随机抽查事项清单):
// each item with its legal basis, subject department, content, method and
// required qualification (art. 9, 10). A year's list is published once;
// after that it changes only by new versions.
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package itemlist

// Service is the item-list use case.
type Service struct{}
