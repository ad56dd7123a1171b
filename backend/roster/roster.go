// Package roster is the inspector roster (执法人员名录库) use case:
// law-enforcement inspectors with their certificates, qualifications and
// declared conflicts of interest (art. 12, 15), with every change kept as a
// version.
//
// It depends on backend interfaces only; it imports no driver and no HTTP.
package roster

// Service is the roster use case.
type Service struct{}
