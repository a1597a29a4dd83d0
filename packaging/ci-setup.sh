#!/usr/bin/env bash
# Installs what the package checks (make deb-test) need on a fresh Debian
# machine; .ci/run calls it. Docker, git and dpkg-deb come with the machine.
# The checks build their Debian root images themselves, once per machine.
set -euo pipefail

packages=(lintian debootstrap qemu-user-static)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
