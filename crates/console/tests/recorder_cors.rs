//! The drop-in recorder's cross-origin rules through the real router: a page on an origin of `--allow-origin`
//! gets `/recorder.js`, its modules and the recording API with CORS (and its own offer through the gateway);
//! it gets nothing else, and every other origin gets 403 there.

use realtime_testkit::console::{ConsoleApp, code_and_param};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const PAGE: &str = "http://localhost:5173";
const EVIL: &str = "http://evil.example";

const MODULES: [&str; 5] = [
    "/recorder.js",
    "/static/js/lib/page-recorder.js",
    "/static/js/lib/recorder.js",
    "/static/js/lib/recorder-storage.js",
    "/static/js/lib/recorder-wire.js",
];

async fn allowing(origins: &[&str]) -> ConsoleApp {
    let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
    ConsoleApp::start_with(move |c| c.allow_origin = origins).await
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

fn varies_by_origin(h: &HeaderMap) -> bool {
    h.get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
}

/// A browser's request from `origin` (`Sec-Fetch-Site` as Chromium sends it from another port or site).
fn from(app: &ConsoleApp, method: Method, path: &str, origin: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .header("origin", origin)
        .header("sec-fetch-site", "cross-site")
}

async fn preflight(
    app: &ConsoleApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> reqwest::Response {
    from(app, Method::OPTIONS, path, origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

/// A gateway key, minted as a page's backend does (no browser, no `Origin`).
async fn ek_key(app: &ConsoleApp) -> String {
    let minted: Value = app
        .http
        .post(app.url("/v1/realtime/client_secrets"))
        .json(&json!({"session": {"type": "realtime", "model": "gpt-realtime"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    minted["value"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_listed_origin_loads_the_recorder_and_records_with_cors() {
    let app = allowing(&[PAGE]).await;
    for path in MODULES {
        let res = from(&app, Method::GET, path, PAGE).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        let h = res.headers();
        assert_eq!(
            header(h, "access-control-allow-origin"),
            Some(PAGE),
            "{path}"
        );
        assert!(
            header(h, "content-type")
                .unwrap()
                .starts_with("text/javascript"),
            "{path}"
        );
        assert!(varies_by_origin(h), "{path}");
        assert_eq!(header(h, "access-control-allow-credentials"), None);
        // Nothing that would keep another origin's page from using the module.
        assert!(
            header(h, "cross-origin-resource-policy").is_none_or(|v| v == "cross-origin"),
            "{path}"
        );
        let text = res.text().await.unwrap();
        assert!(text.contains("import") || text.contains("export"), "{path}");
    }
    let recorder = app.get_text("/recorder.js").await;
    assert!(recorder.contains("export function record("), "{recorder}");

    let res = preflight(&app, "/api/sessions", PAGE, "POST", "content-type").await;
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(header(h, "access-control-allow-methods"), Some("POST"));
    assert_eq!(
        header(h, "access-control-allow-headers"),
        Some("content-type")
    );
    assert!(varies_by_origin(h));

    let res = from(&app, Method::POST, "/api/sessions", PAGE)
        .json(&json!({"label": "my page", "flow": "page"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some(PAGE)
    );
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = format!("/api/sessions/{id}/events");
    let res = preflight(&app, &events, PAGE, "POST", "content-type").await;
    assert_eq!(res.status(), 204);
    let res = from(&app, Method::POST, &events, PAGE)
        .json(&json!({"events": [{"seq": 1, "ts": 1.5, "direction": "client", "event": {"type": "response.create"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some(PAGE)
    );
    assert_eq!(res.json::<Value>().await.unwrap()["acked_seq"], 1);

    let session = format!("/api/sessions/{id}");
    let res = preflight(&app, &session, PAGE, "PATCH", "content-type").await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(res.headers(), "access-control-allow-methods"),
        Some("PATCH")
    );
    let res = from(&app, Method::PATCH, &session, PAGE)
        .json(&json!({"call_id": "rtc_page1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some(PAGE)
    );
    let (_, stored) = app.session(&id).await;
    assert_eq!(stored["flow"], "page");
    assert_eq!(stored["call_id"], "rtc_page1");
    assert_eq!(stored["stats"]["events"]["client"], 1);

    // The library says where it came from.
    let library = app.get_text("/sessions").await;
    assert!(library.contains("your page (recorder.js)"), "{library}");
}

#[tokio::test]
async fn a_listed_origin_gets_nothing_else_and_its_offer_needs_its_own_key() {
    let app = allowing(&[PAGE]).await;
    let id = app.new_session_id().await;

    let res = from(&app, Method::GET, "/api/sessions", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        None,
        "reading the library is not the recorder's"
    );
    let res = from(&app, Method::DELETE, &format!("/api/sessions/{id}"), PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
    assert_eq!(app.session(&id).await.0, 200, "still there");
    let res = preflight(&app, &format!("/api/sessions/{id}"), PAGE, "DELETE", "").await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
    for path in ["/api/rt/token", "/v1/realtime/client_secrets"] {
        let res = from(&app, Method::POST, path, PAGE)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "POST {path}");
        let h = res.headers().clone();
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(code_and_param(&body).0, "cross_origin_request");
    }
    let res = from(&app, Method::GET, "/static/js/console.js", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);

    // The page's own offer through the gateway: with an SDK's headers, and its own ephemeral key.
    let asked = "authorization,content-type,x-openai-agents-sdk";
    let res = preflight(&app, "/v1/realtime/calls", PAGE, "POST", asked).await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(res.headers(), "access-control-allow-headers"),
        Some(asked)
    );
    let offer = |key: Option<String>| {
        let mut req = from(&app, Method::POST, "/v1/realtime/calls", PAGE)
            .header("content-type", "application/sdp")
            .body(realtime_emulator::rtc::CHROMIUM_OFFER);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send()
    };
    // Without one the gateway would spend the server's key: refused, readably.
    let res = offer(None).await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some(PAGE)
    );
    let res = offer(Some(ek_key(&app).await)).await.unwrap();
    assert_eq!(res.status(), 201);
    let h = res.headers();
    assert_eq!(header(h, "access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        header(h, "access-control-expose-headers"),
        Some("location, x-console-session-id")
    );
    let location = header(h, "location").unwrap();
    assert!(
        location.starts_with(&app.url("/v1/realtime/calls/rtc_")),
        "the call is named on the console, not on the page's origin: {location}"
    );
}

#[tokio::test]
async fn other_origins_are_refused_and_nothing_is_stored() {
    let app = allowing(&[PAGE]).await;
    let id = app.new_session_id().await;
    for path in MODULES {
        let res = from(&app, Method::GET, path, EVIL).send().await.unwrap();
        assert_eq!(res.status(), 403, "GET {path}");
        assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
        let body: Value = res.json().await.unwrap();
        assert_eq!(code_and_param(&body).0, "cross_origin_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--allow-origin"),
            "{body}"
        );
    }
    let res = preflight(&app, "/api/sessions", EVIL, "POST", "content-type").await;
    assert_eq!(res.status(), 403);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
    let res = from(&app, Method::POST, "/api/sessions", EVIL)
        .json(&json!({"label": "evil"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = from(
        &app,
        Method::POST,
        &format!("/api/sessions/{id}/events"),
        EVIL,
    )
    .json(
        &json!({"events": [{"seq": 1, "ts": 1.0, "direction": "client", "event": {"type": "x"}}]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let res = from(&app, Method::PATCH, &format!("/api/sessions/{id}"), EVIL)
        .json(&json!({"label": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = from(&app, Method::POST, "/v1/realtime/calls", EVIL)
        .bearer_auth(ek_key(&app).await)
        .header("content-type", "application/sdp")
        .body(realtime_emulator::rtc::CHROMIUM_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let sessions = app.get_json("/api/sessions").await;
    let sessions = sessions["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "only the test's own: {sessions:?}");
    assert_eq!(sessions[0]["label"], "");
    assert_eq!(sessions[0]["stats"]["events"]["total"], 0);

    // Its own origin, and tools that send none, are served as before.
    let own = app.base.clone();
    let res = from(&app, Method::GET, "/recorder.js", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
    assert!(varies_by_origin(res.headers()));

    // Without --allow-origin, no origin is listed.
    let closed = allowing(&[]).await;
    let res = from(&closed, Method::GET, "/recorder.js", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = from(&closed, Method::POST, "/api/sessions", PAGE)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn with_an_access_secret_the_recorder_loads_but_its_requests_need_the_secret() {
    let secret = "0123456789abcdef-access";
    let app = ConsoleApp::start_with(|c| {
        c.access_secret = Some(realtime_console::config::AccessSecret::new(secret));
        c.allow_origin = vec![PAGE.to_owned()];
    })
    .await;
    let res = from(&app, Method::GET, "/recorder.js", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A preflight carries no credentials: answered before the access check.
    let res = preflight(&app, "/api/sessions", PAGE, "POST", "content-type").await;
    assert_eq!(res.status(), 204);
    let res = from(&app, Method::POST, "/api/sessions", PAGE)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some(PAGE),
        "the page can read why"
    );
    let res = from(&app, Method::POST, "/api/sessions", PAGE)
        .bearer_auth(secret)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}
