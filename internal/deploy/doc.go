// Package deploy holds tests of the repository's deployment files:
// docker-compose.yml, the Dockerfile and the scripts under scripts/. It has
// no code of its own; the tests read the files from the repository root.
package deploy
