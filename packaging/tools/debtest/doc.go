// Package debtest checks edgeagent's Debian packages the way Debian checks
// packages and the way a user installs them: the files and fields of each
// .deb, lintian, reproducibility, systemd's verdict on the unit, installs,
// upgrades, removals and purges in a clean Debian root, the service in a
// container booted with systemd, and the ARM binaries under qemu. It holds
// only tests; `make deb-test` runs them after building the packages once.
//
// Each check needs tools (docker, debootstrap, lintian, qemu-user-static,
// dpkg-deb). A missing tool fails the check when CI=true and skips it
// with a one-line reason elsewhere.
package debtest
