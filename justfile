# realtime-console — run `just` to list the recipes.

default:
    @just --list

# Run the console server (debug build) on http://127.0.0.1:3000
dev *ARGS:
    cargo run -p realtime-console -- {{ARGS}}

# Format check, lints as errors, then every test in the workspace (installs Chromium, chromedriver and Node
# from Debian first if they are missing, and the test clients from their npm lockfile)
test:
    scripts/test-deps.sh
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace
    node --test static/js/test/ static/js/library/test/

# Print performance figures (release build); no assertions
bench:
    cargo bench -p realtime-console --bench ingest
    cargo bench -p realtime-console --bench rt_token
    cargo bench -p realtime-console --bench library

# Format the code
fmt:
    cargo fmt --all

# Lint the code
lint:
    cargo clippy --workspace --all-targets -- -D warnings
