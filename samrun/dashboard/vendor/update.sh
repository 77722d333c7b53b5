#!/bin/sh
# Install the pinned libraries from the npm registry and copy their built files and licences
# into static/vendor/ (committed, so running samrun needs no Node.js). Run after a version bump.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
[ -f "$here/package-lock.json" ] && cp "$here/package-lock.json" "$work/"
(cd "$work" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "$work/package-lock.json" "$here/package-lock.json"
out="$here/../static/vendor"
mkdir -p "$out"
cp "$work/node_modules/uplot/dist/uPlot.iife.min.js" "$out/uPlot.iife.min.js"
cp "$work/node_modules/uplot/dist/uPlot.min.css" "$out/uPlot.min.css"
cp "$work/node_modules/uplot/LICENSE" "$out/uPlot.LICENSE"
