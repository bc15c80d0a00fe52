#!/usr/bin/env bash
# The references of parx's two personalities, from Debian's packages (never installed, never
# run): findutils 4.9.0's source for its xargs test suite (tests/it/xargs_suite.rs), and the
# texinfo of GNU parallel 20221122's tutorial from its binary package
# (tests/it/parallel_tutorial.rs).
#
#   eval "$(.ci/references.sh DIR)"    fetches into DIR, then prints
#       export PARX_FINDUTILS_SRC=DIR/findutils-4.9.0
#       export PARX_PARALLEL_TUTORIAL=DIR/parallel/usr/share/doc/parallel/parallel_tutorial.texi.gz
#
# Needs root for apt-get: adds a deb-src entry for Debian's main archive if there is none.
set -euo pipefail
dir=${1:?usage: .ci/references.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
updated=
update() { [[ -n $updated ]] || { apt-get update -qq >&2; updated=1; }; }

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
    update
    (cd "$dir" && apt-get source --download-only findutils >&2)
    orig=$(ls "$dir"/findutils_4.9.0.orig.tar.* | head -1)
    tar -C "$dir" -xf "$orig" findutils-4.9.0/xargs/testsuite
fi

tutorial=$dir/parallel/usr/share/doc/parallel/parallel_tutorial.texi.gz
if [[ ! -f $tutorial ]]; then
    update
    (cd "$dir" && apt-get download parallel >&2)
    dpkg-deb -x "$(ls "$dir"/parallel_*.deb | head -1)" "$dir/parallel"
fi
echo "export PARX_FINDUTILS_SRC=$dir/findutils-4.9.0"
echo "export PARX_PARALLEL_TUTORIAL=$tutorial"
