#!/usr/bin/env bash
# The host packages Autopilot needs to run repository code: bubblewrap (the sandbox; prlimit
# and setpriv come with util-linux) and a python3 that can make virtualenvs (the environments);
# and for the monitoring tests, prometheus (promtool and the server).
# Installs what is missing with apt-get when run as root; otherwise says what to install.
set -euo pipefail
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
# promtool checks and unit-tests the alert rules; the scrape test runs a real Prometheus.
command -v promtool >/dev/null || missing+=(prometheus)
if [ -x /usr/bin/python3 ] && [ ! -x /usr/local/bin/python3 ] \
    && ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
else
  echo "autopilot: missing host packages: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
