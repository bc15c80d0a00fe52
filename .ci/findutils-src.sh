#!/usr/bin/env bash
# findutils 4.9.0's source, for its xargs test suite (tests/xargs_suite.rs), from Debian's
# source packages (the version of the GNU xargs the suite's calibration was made with).
#
#   .ci/findutils-src.sh DIR     unpacks DIR/findutils-4.9.0/xargs/testsuite; prints that
#                                findutils directory (PARX_FINDUTILS_SRC for the tests)
#
# Needs root for apt-get: adds a deb-src entry for Debian's main archive if none is there.
set -euo pipefail
dir=${1:?usage: .ci/findutils-src.sh DIR}
mkdir -p "$dir"
if [[ ! -f $dir/findutils-4.9.0/xargs/testsuite/config/unix.exp ]]; then
    if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        cat > /etc/apt/sources.list.d/parx-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    apt-get update -qq >&2
    (cd "$dir" && apt-get source --download-only findutils >&2)
    orig=$(ls "$dir"/findutils_4.9.0.orig.tar.* | head -1)
    tar -C "$dir" -xf "$orig" findutils-4.9.0/xargs/testsuite
fi
echo "$dir/findutils-4.9.0"
