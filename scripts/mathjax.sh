#!/usr/bin/env bash
# What the web book needs from Debian: MathJax (libjs-mathjax), which `d2lc build` copies into the site so
# math renders offline. Without it the site loads MathJax from its CDN.
# `make book` runs this before building, so the site (and its build stamp, which records whether a local
# MathJax was found) is the one the browser test later checks; `scripts/browser.sh` runs it too.
# Installs it when run as root with apt-get; otherwise says what is missing.
set -euo pipefail
[ -f /usr/share/javascript/mathjax/MathJax.js ] && { echo "mathjax: libjs-mathjax present"; exit 0; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing for the web book's offline math: libjs-mathjax"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjs-mathjax >/dev/null
else
  echo "warning: the web book loads MathJax from its CDN; for offline math: apt-get install libjs-mathjax" >&2
fi
