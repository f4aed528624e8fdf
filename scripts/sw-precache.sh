#!/usr/bin/env bash
# Trunk post-build hook (Trunk.toml): writes the app's file list and a version (the hash of
# those files) into the staged sw.js, so that a new build is a new, complete cache.
set -euo pipefail
cd "${TRUNK_STAGING_DIR:?run by trunk}"
# Every file of the app but the service worker itself and the models (kept in OPFS).
mapfile -t files < <(find . -type f ! -name sw.js ! -path './models/*' -printf '%P\n' | LC_ALL=C sort)
version=$(for f in "${files[@]}"; do printf '%s ' "$f"; sha256sum < "$f"; done | sha256sum | cut -c1-16)
list=$(printf '"%s",' "${files[@]}")
sed -i -e "s|__VERSION__|${version}|" -e "s|__FILES__|[${list%,}]|" sw.js
echo "sw.js: version ${version}, ${#files[@]} files"
