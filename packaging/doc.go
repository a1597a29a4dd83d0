// Package packaging holds what turns edgeagent into a Debian package: the
// nfpm recipe (nfpm.yaml), the systemd unit, the maintainer scripts, the
// lintian override, README.Debian and the copyright head, plus the default
// and example configurations the package installs. The builder and the
// package checks are Go code in the nested module packaging/tools, so
// nfpm's modules stay out of edgeagent's go.mod; `make deb` and
// `make deb-test` run them. This package has no Go code of its own.
package packaging
