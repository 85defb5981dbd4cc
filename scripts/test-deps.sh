#!/usr/bin/env bash
# What `just test` needs beyond Rust, checked before anything compiles:
#   - Chromium and ChromeDriver (Debian's `chromium`, `chromium-driver`) for the browser tests;
#   - Node.js with npm, for the browser modules' unit tests, their formatter and linter, and the test package
#     of official clients;
#   - Python 3 with venv, for the official Python client.
# Missing pieces are installed from Debian when this user can (root, or sudo without a password); otherwise
# the script stops at once and prints the one command to run. Then the npm packages (the test clients, the
# pages' Prettier and ESLint) are installed from their lockfiles, once per lockfile change.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/chromedriver ] || packages+=(chromium-driver)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || packages+=(python3 python3-venv)

if [ ${#packages[@]} -gt 0 ]; then
    install=(apt-get install -y --no-install-recommends "${packages[@]}")
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "just test needs ${packages[*]} (Debian packages). Install them with:" >&2
        echo "    sudo apt-get update && sudo ${install[*]}" >&2
        exit 1
    fi
    echo "test-deps: installing ${packages[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" "${install[@]}" -qq
fi

# npm packages at the versions a lockfile pins. `npm ci` only when the lockfile changed since the last
# install (the stamp is a copy of the lockfile it installed).
npm_ci_once() {
    local dir=$1 what=$2
    local stamp=$dir/node_modules/.installed-lock.json
    if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
        echo "test-deps: installing $what (npm ci in $dir)" >&2
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        cp "$dir/package-lock.json" "$stamp"
    fi
}
# The official clients the tests drive, and the pages' formatter and linter (Prettier, ESLint).
npm_ci_once tests/clients "the test clients"
npm_ci_once tools/lint-js "the pages' formatter and linter"

# The official Python client, in a venv of its own, pinned with hashes; again only when the lockfile changed.
venv=tests/clients/.venv
lock=tests/clients/python/requirements.txt
if ! cmp -s "$lock" "$venv/.installed-requirements.txt" 2>/dev/null; then
    echo "test-deps: installing the Python test client (pip in $venv)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$lock"
    cp "$lock" "$venv/.installed-requirements.txt"
fi
