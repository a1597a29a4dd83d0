// Package packaging holds what turns edgeagent into a Debian package: the
// nfpm recipe, the systemd unit, the default configuration and the
// maintainer scripts. It has no Go code of its own.
package packaging
