#!/usr/bin/env bash
# `just screenshots`: writes docs/screenshots/ (crates/console/tests/screenshots.rs, an ignored test), then
# shrinks the PNGs to 256-colour palettes with pngquant (Debian's `pngquant`, installed when this user can):
# the UI's flat colours survive it and the folder stays a few MB. SHOTS=a,b takes only those scenes.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pngquant >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -qq pngquant \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -qq pngquant; }
    else
        echo "screenshots: pngquant is missing (sudo apt-get install pngquant); the PNGs stay as Chromium wrote them" >&2
    fi
fi

started=$(date +%s)
SHOTS="${1:-}" cargo test -p realtime-console --test screenshots -- --ignored --nocapture
if command -v pngquant >/dev/null 2>&1; then
    # Only what this run wrote.
    find docs/screenshots -name '*.png' -newermt "@$started" -print0 |
        xargs -0 -r pngquant --quality=80-98 --speed 1 --strip --force --ext .png
fi
du -sh docs/screenshots
