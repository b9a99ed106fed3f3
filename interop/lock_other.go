//go:build !unix

package interop

// lockFile is a no-op where flock is unavailable: run the interop tests of
// one package at a time there (go test -p 1) if node_modules needs installing.
func lockFile(path string) (func(), error) { return func() {}, nil }
