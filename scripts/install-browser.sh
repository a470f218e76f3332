#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser), only if it is missing.
# Run as root (apt-get). Prints one line; apt's output goes to a log shown only on failure.
# Never downloads a browser any other way (no `playwright install`): the tests drive this one.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) already at $CHROMIUM"
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "install-browser: $CHROMIUM is missing; run as root: apt-get install -y chromium" >&2
    exit 1
fi
log="$(mktemp -t install-browser.XXXXXX.log)"
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "install-browser: apt-get failed (log: $log)" >&2
    exit 1
fi
rm -f "$log"
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) at $CHROMIUM"
