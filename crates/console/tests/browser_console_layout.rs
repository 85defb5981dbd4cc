//! The console page at 1280×800, in headless Chromium against the real server and its built-in emulator:
//! every control has a label, "none (push-to-talk)" and the other selects' options are not cut off, a row's
//! controls line up, the price table fits its panel, the
//! presets ask before they replace or delete, a connect refused before its session existed still leaves
//! its reason in the log, and in dark mode as in light the panels are themed and text on the accent reads.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// The saved presets as the page keeps them (name → instructions).
async fn saved_presets(b: &Browser) -> Value {
    b.eval(
        "const all = JSON.parse(localStorage.getItem('realtime-console.presets.v1') || '{}');
         return Object.fromEntries(Object.entries(all).map(([n, p]) => [n, p.form.instructions]));",
    )
    .await
}

/// The preset dialog: open or not, and what it asks.
async fn preset_dialog(b: &Browser) -> Value {
    b.eval(
        "const d = document.getElementById('preset-dialog');
         return { open: d.open, text: document.getElementById('preset-dialog-text').textContent,
                  ok: document.getElementById('preset-ok').textContent,
                  name: !document.getElementById('preset-name-row').hidden };",
    )
    .await
}

async fn set_instructions(b: &Browser, text: &str) {
    b.eval(&format!(
        "const f = document.getElementById('config-form');
         f.elements.instructions.value = {};
         f.dispatchEvent(new Event('input', {{ bubbles: true }}));
         return null",
        json!(text)
    ))
    .await;
}

/// Save as… `name`: the dialog asks for the name, and OK saves (or asks again, when it would replace).
async fn save_as(b: &Browser, name: &str) {
    b.click("preset-save").await;
    let asked = preset_dialog(b).await;
    assert_eq!(
        [&asked["open"], &asked["name"]],
        [&json!(true); 2],
        "{asked}"
    );
    b.eval(&format!(
        "document.getElementById('preset-name').value = {}; return null",
        json!(name)
    ))
    .await;
    b.click("preset-ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_at_1280x800_is_labelled_fits_asks_about_presets_and_logs_a_refused_connect() {
    // One /api/rt request a minute: the test spends it, so the page's connect is refused with 429.
    let (_server, b) =
        console_page::launch(BIN, &[("RT_RATE_PER_MIN", "1"), ("RT_RATE_BURST", "1")]).await;
    b.set_viewport(1280, 800).await;

    // Every control of the message box and the custom-tool form has a label (visible or not), not only
    // a placeholder.
    let unlabelled = b
        .eval(
            "const tools = document.getElementById('tools-panel');
             tools.querySelector('details.tool-custom').open = true;
             const controls = [document.getElementById('text-input'),
                               ...tools.querySelectorAll('.tool-form input, .tool-form textarea')];
             return controls.filter((c) => ![...c.labels].some((l) => l.textContent.trim())
                                           && !(c.getAttribute('aria-label') || '').trim())
                            .map((c) => c.name || c.id);",
        )
        .await;
    assert_eq!(
        unlabelled,
        json!([]),
        "controls labelled only by a placeholder"
    );

    // Whichever type is chosen (and so whichever fields sit beside it), the select is wide enough for
    // every type's name, "none (push-to-talk)" the longest, with its padding and arrow.
    for kind in ["server_vad", "semantic_vad", "none"] {
        b.select_css("select[name='turn.type']", kind).await;
        let fit = b
            .eval(
                "const s = document.querySelector(\"select[name='turn.type']\");
                 const cs = getComputedStyle(s);
                 const ctx = document.createElement('canvas').getContext('2d');
                 ctx.font = cs.font;
                 const text = Math.max(...[...s.options].map((o) => ctx.measureText(o.text).width));
                 const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
                 return { kind: s.value, width: Math.ceil(text), room: Math.floor(room) };",
            )
            .await;
        println!("turn type select at 1280x800: {fit}");
        assert!(
            fit["width"].as_i64().unwrap() <= fit["room"].as_i64().unwrap(),
            "the turn type is cut off in its select: {fit}"
        );
    }

    // Every select of the form is wide enough for its longest option, and a label that wraps ("Silence ms")
    // leaves its control on its row's line.
    b.select_css("select[name='turn.type']", "server_vad").await;
    let cut = b
        .eval(
            "const ctx = document.createElement('canvas').getContext('2d');
             const shown = (e) => e.getClientRects().length > 0;
             const selects = [...document.querySelectorAll('#config-form select')].filter(shown);
             const cut = selects.flatMap((s) => {
               const cs = getComputedStyle(s);
               ctx.font = cs.font;
               const text = Math.max(...[...s.options].map((o) => ctx.measureText(o.text).width));
               const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
               return Math.ceil(text) <= Math.floor(room) ? [] : [`${s.name}: ${Math.ceil(text)} > ${Math.floor(room)}`];
             });
             const rows = [...document.querySelectorAll('#config-form .row:not(.checks)')].filter(shown);
             const uneven = rows.flatMap((r) => {
               const bottoms = [...r.querySelectorAll(':scope > label')].filter(shown)
                 .map((l) => Math.round(l.querySelector('[name]').getBoundingClientRect().bottom));
               return new Set(bottoms).size > 1 ? [`${[...r.querySelectorAll('[name]')].map((c) => c.name)}: ${bottoms}`] : [];
             });
             return { cut, uneven };",
        )
        .await;
    assert_eq!(
        cut,
        json!({"cut": [], "uneven": []}),
        "selects cut off, or a row's controls not on one line"
    );

    // The price table fits its box: no sideways scroll in it, nor in the side panel.
    let prices = b
        .eval(
            "const box = document.querySelector('#metrics .mv-prices');
             box.open = true;
             const side = document.querySelector('.panel.side');
             const table = box.querySelector('table');
             return { box: [box.scrollWidth, box.clientWidth], side: [side.scrollWidth, side.clientWidth],
                      tableRight: Math.round(table.getBoundingClientRect().right),
                      boxRight: Math.round(box.getBoundingClientRect().right) };",
        )
        .await;
    println!("price table at 1280x800: {prices}");
    assert!(
        prices["box"][0].as_i64() <= prices["box"][1].as_i64()
            && prices["side"][0].as_i64() <= prices["side"][1].as_i64()
            && prices["tableRight"].as_i64() <= prices["boxRight"].as_i64(),
        "the price table scrolls sideways: {prices}"
    );

    // Presets: Save as… asks for the name in the page's dialog; saving over a preset asks first, and so
    // does Delete; Cancel leaves the preset as it was.
    set_instructions(&b, "first").await;
    save_as(&b, "demo").await;
    assert_eq!(saved_presets(&b).await, json!({"demo": "first"}));
    set_instructions(&b, "second").await;
    save_as(&b, "demo").await;
    let replace = preset_dialog(&b).await;
    assert_eq!(
        [&replace["open"], &replace["name"], &replace["ok"]],
        [&json!(true), &json!(false), &json!("Replace")],
        "{replace}"
    );
    assert!(
        replace["text"].as_str().unwrap().contains("demo"),
        "{replace}"
    );
    b.click("preset-cancel").await;
    assert_eq!(
        saved_presets(&b).await,
        json!({"demo": "first"}),
        "Cancel keeps the preset"
    );
    save_as(&b, "demo").await;
    b.click("preset-ok").await;
    assert_eq!(saved_presets(&b).await, json!({"demo": "second"}));

    b.select("preset-list", "demo").await;
    b.click("preset-delete").await;
    let delete = preset_dialog(&b).await;
    assert_eq!(
        [&delete["open"], &delete["ok"]],
        [&json!(true), &json!("Delete")],
        "{delete}"
    );
    b.click("preset-cancel").await;
    assert_eq!(saved_presets(&b).await, json!({"demo": "second"}));
    b.click("preset-delete").await;
    b.click("preset-ok").await;
    assert_eq!(saved_presets(&b).await, json!({}));
    assert_eq!(preset_dialog(&b).await["open"], json!(false));

    // A connect refused before any session existed: the reason is in the log, not only the status line.
    let spent = b
        .eval_async(
            "const r = await fetch('/api/rt/token', { method: 'POST',
               headers: { 'Content-Type': 'application/json' }, body: '{}' });
             return r.status;",
        )
        .await;
    assert_eq!(spent, json!(200));
    b.click("connect").await;
    b.wait_until(
        "window.consoleDebug.phase() === 'idle' && document.getElementById('status').textContent.includes('failed')",
        "the refused connect is reported",
    )
    .await;
    let logged = b
        .wait_until(
            "(() => { const es = window.consoleDebug.entries();
                      const e = es.find((e) => e.direction === 'system' && e.event.type === 'console.error');
                      return e && { event: e.event,
                                    shown: window.consoleDebug.logCount().entries,
                                    text: document.getElementById('log').textContent }; })()",
            "the log shows why the connect failed",
        )
        .await;
    assert_eq!(logged["event"]["where"], "connect", "{logged}");
    assert!(
        logged["event"]["message"]
            .as_str()
            .unwrap()
            .contains("too many requests"),
        "{logged}"
    );
    assert!(logged["shown"].as_u64().unwrap() >= 1, "{logged}");
    assert!(
        logged["text"].as_str().unwrap().contains("console.error"),
        "the log panel shows the entry: {logged}"
    );
    // Its summary, the reason, has room beside the type in the narrow log: not a letter or two.
    let summary = b
        .eval(
            "const row = [...document.querySelectorAll('#log .lp-row')]
               .find((r) => r.querySelector('.lp-type').textContent === 'console.error');
             return Math.round(row.querySelector('.lp-sum').getBoundingClientRect().width);",
        )
        .await;
    assert!(
        summary.as_i64().unwrap() >= 120,
        "the log row's summary is {summary} px wide"
    );

    // In both schemes the panels take the scheme's background, and the text on an accent (Connect, OK) can
    // be read: dark mode's accent is light, and white on it was not.
    for scheme in ["light", "dark"] {
        b.emulate_color_scheme(scheme).await;
        let panel = b
            .eval(
                "return getComputedStyle(document.querySelector('.panel.config')).backgroundColor",
            )
            .await;
        let expected = if scheme == "dark" {
            "rgb(27, 30, 34)"
        } else {
            "rgb(255, 255, 255)"
        };
        assert_eq!(panel, expected, "the config panel in {scheme} mode");
        for selector in ["#connect", "#preset-ok", ".panel.config h2"] {
            let ratio = b.contrast(selector).await;
            assert!(
                ratio >= 4.5,
                "{selector} in {scheme} mode: contrast {ratio:.2}, under 4.5"
            );
        }
    }
    b.close().await;
}
