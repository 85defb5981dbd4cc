# realtime-console — run `just` to list the recipes.

default:
    @just --list

# Run the console server (debug build) on http://127.0.0.1:3000
dev *ARGS:
    cargo run -p realtime-console -- {{ARGS}}

# Format checks, lints as errors, then every test in the workspace (installs Chromium, chromedriver and Node
# from Debian first if they are missing, and the test clients and the JS linters from their npm lockfiles)
test:
    scripts/test-deps.sh
    cargo fmt --all --check
    npm --prefix tools/lint-js run lint
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace
    node --test static/js/test/ static/js/library/test/

# Print performance figures (release build); no assertions
bench:
    cargo bench -p realtime-store --features bench --bench ingest
    cargo bench -p realtime-console --bench ingest
    cargo bench -p realtime-console --bench rt_token
    cargo bench -p realtime-console --bench library
    cargo bench -p realtime-console --bench gateway
    cargo bench -p realtime-console --bench audio_store
    cargo bench -p realtime-emulator --bench ws
    # Audio in Chromium (debug build: the browser does the work): bytes a minute per track, browser CPU
    # recording against not, and the inspector's lanes of a 60-minute session.
    cargo test -p realtime-console --test browser_audio -- --include-ignored --nocapture
    cargo test -p realtime-console --test browser_inspector_audio a_sixty_minute -- --nocapture

# Format the code (Rust, and the pages' JS with Prettier)
fmt:
    cargo fmt --all
    npm --prefix tools/lint-js run fmt

# Lint the code (Rust, and the pages' JS: Prettier's check and ESLint)
lint:
    cargo clippy --workspace --all-targets -- -D warnings
    npm --prefix tools/lint-js run lint

# Write docs/screenshots/ (each scene at 1280x800 and 1920x1080, light and dark; shrunk with pngquant);
# `just screenshots console-connected,library` takes only those scenes
screenshots SCENES="":
    scripts/screenshots.sh "{{SCENES}}"
