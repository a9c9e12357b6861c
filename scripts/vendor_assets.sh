#!/usr/bin/env bash
# Fetch the front-end assets the pages use from the npm registry and copy their dist files
# (with licences) into jindu/static/vendor/<pkg>-<version>/. Intranet deployments have no
# internet, so nothing is ever loaded from a CDN; the copied files are committed.
# Versions are pinned in package.json; run this after changing them, then update the
# <link>/<script> paths in jindu/templates/base.html.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENDOR=$ROOT/jindu/static/vendor
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

version() { node -p "require('$ROOT/package.json').devDependencies['$1']"; }

fetch() {  # fetch <npm-name>: unpack its tarball into $WORK/<npm-name>
    local name=$1 ver
    ver=$(version "$name")
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && npm pack --silent "$name@$ver" >/dev/null && tar -xzf ./*.tgz)
    echo "$ver"
}

rm -rf "$VENDOR"
mkdir -p "$VENDOR"

v=$(fetch bootstrap); d=$VENDOR/bootstrap-$v; mkdir -p "$d/css" "$d/js"
src=$WORK/bootstrap/package
cp "$src/dist/css/bootstrap.min.css" "$src/dist/css/bootstrap.min.css.map" "$d/css/"
cp "$src/dist/js/bootstrap.bundle.min.js" "$src/dist/js/bootstrap.bundle.min.js.map" "$d/js/"
cp "$src/LICENSE" "$d/"

v=$(fetch bootstrap-icons); d=$VENDOR/bootstrap-icons-$v; mkdir -p "$d/font/fonts"
src=$WORK/bootstrap-icons/package
cp "$src/font/bootstrap-icons.min.css" "$d/font/"
cp "$src/font/fonts/bootstrap-icons.woff2" "$src/font/fonts/bootstrap-icons.woff" "$d/font/fonts/"
cp "$src/LICENSE" "$d/"

v=$(fetch htmx.org); d=$VENDOR/htmx-$v; mkdir -p "$d"
src=$WORK/htmx.org/package
cp "$src/dist/htmx.min.js" "$d/"
cp "$src/LICENSE" "$d/"

v=$(fetch echarts); d=$VENDOR/echarts-$v; mkdir -p "$d"
src=$WORK/echarts/package
cp "$src/dist/echarts.min.js" "$d/"
cp "$src/LICENSE" "$src/NOTICE" "$d/"

v=$(fetch tom-select); d=$VENDOR/tom-select-$v; mkdir -p "$d/css" "$d/js"
src=$WORK/tom-select/package
cp "$src/dist/css/tom-select.bootstrap5.min.css" "$src/dist/css/tom-select.bootstrap5.min.css.map" "$d/css/"
cp "$src/dist/js/tom-select.complete.min.js" "$src/dist/js/tom-select.complete.min.js.map" "$d/js/"
cp "$src/LICENSE" "$d/"

find "$VENDOR" -type f | sort
