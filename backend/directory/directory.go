// Package directory is the enterprise directory (监管对象名录库) use case:
// the county's towns, the departments (internal offices, the brigade and
// partner agencies), and the enterprises that draws choose from (art. 6, 7,
// 13, 16), with every change kept as a version.
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package directory

// Service is the directory use case.
type Service struct{}
