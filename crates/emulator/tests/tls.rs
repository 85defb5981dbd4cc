//! HTTPS and WSS (`realtime-emulator --tls`): the same API behind a self-signed certificate, in-process and as
//! the binary a developer starts.

use std::process::Stdio;
use std::time::Duration;

use realtime_emulator::EmulatorConfig;
use realtime_testkit::emulator::{EmulatorApp, KEY, expect_error};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-emulator");

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn over_https_keys_are_minted_and_webrtc_offers_answered() {
    let app = EmulatorApp::start_tls(EmulatorConfig::default()).await;
    assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);
    let ek = app.ephemeral_key().await;

    let res = app
        .call_sdp(&ek, realtime_emulator::rtc::CHROMIUM_OFFER)
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["content-type"], "application/sdp");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let answer = res.text().await.unwrap();
    assert!(
        answer.starts_with("v=0") && answer.contains("a=candidate"),
        "{answer}"
    );
    let call_id = location.rsplit('/').next().unwrap();
    assert_eq!(app.hangup(KEY, call_id).await.status(), 200);
    expect_error(app.hangup(KEY, call_id).await, 404, Some("call_not_found")).await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_cannot_connect() {
    let app = EmulatorApp::start_tls(EmulatorConfig::default()).await;
    let err = reqwest::Client::new()
        .post(format!("{}/realtime/client_secrets", app.base))
        .bearer_auth(KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test]
async fn silent_and_plain_http_connections_do_not_hold_up_other_clients() {
    let app = EmulatorApp::start_tls(EmulatorConfig::default()).await;
    let addr = app
        .base
        .trim_start_matches("https://")
        .trim_end_matches("/v1");
    // One client connects and never starts its handshake; another speaks plain HTTP to the TLS port.
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /v1/realtime HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // A client with the certificate is served all the same.
    let v = app.mint_ok(&json!({})).await;
    assert!(v["value"].as_str().unwrap().starts_with("ek_"), "{v}");
}

/// `realtime-emulator` started with `args` on port 0, and the `base_url` its start-up line names.
struct Binary {
    /// Killed when the test ends (`kill_on_drop`).
    _child: tokio::process::Child,
    base: String,
    lines: Vec<String>,
}

impl Binary {
    async fn start(args: &[&str]) -> Binary {
        let mut child = tokio::process::Command::new(BIN)
            .args(["--port", "0", "--pace", "instant"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut lines = Vec::new();
        let base = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = out.next_line().await.unwrap() {
                lines.push(line.clone());
                if let Some((_, rest)) = line.split_once("base_url=") {
                    return rest.split_whitespace().next().unwrap().to_owned();
                }
            }
            panic!("the emulator exited before listening: {lines:?}");
        })
        .await
        .expect("the emulator did not say where it listens");
        // Its later log lines go nowhere, so a full pipe never holds it up.
        tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
        Binary {
            _child: child,
            base,
            lines,
        }
    }
}

/// A client of `base` that trusts the certificate in `pem`; the body of a mint with [`KEY`].
async fn mint_trusting(pem: &[u8], base: &str) -> Value {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/realtime/client_secrets"))
        .bearer_auth(KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn the_binary_writes_its_certificate_and_says_how_to_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("emulator.pem");
    let bin = Binary::start(&["--tls", "--tls-cert-out", cert.to_str().unwrap()]).await;
    assert!(bin.base.starts_with("https://127.0.0.1:"), "{}", bin.base);
    let hint = format!("NODE_EXTRA_CA_CERTS={}", cert.display());
    assert!(
        bin.lines.iter().any(|l| l.contains(&hint)),
        "the start-up lines say {hint}: {:#?}",
        bin.lines
    );
    let first = std::fs::read(&cert).unwrap();
    let v = mint_trusting(&first, &bin.base).await;
    assert!(v["value"].as_str().unwrap().starts_with("ek_"), "{v}");

    // The next start makes a new certificate and replaces the file with it.
    let next = Binary::start(&["--tls", "--tls-cert-out", cert.to_str().unwrap()]).await;
    let second = std::fs::read(&cert).unwrap();
    assert_ne!(first, second);
    let v = mint_trusting(&second, &next.base).await;
    assert!(v["value"].as_str().unwrap().starts_with("ek_"), "{v}");
}

#[tokio::test]
async fn the_binary_serves_a_certificate_and_key_given_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, pem("CERTIFICATE", made.cert.der())).unwrap();
    std::fs::write(&key, pem("PRIVATE KEY", &made.signing_key.serialize_der())).unwrap();
    let bin = Binary::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let hint = format!("NODE_EXTRA_CA_CERTS={}", cert.display());
    assert!(
        bin.lines.iter().any(|l| l.contains(&hint)),
        "{hint}: {:#?}",
        bin.lines
    );
    let v = mint_trusting(&std::fs::read(&cert).unwrap(), &bin.base).await;
    assert!(v["value"].as_str().unwrap().starts_with("ek_"), "{v}");
}

#[tokio::test]
async fn the_binary_refuses_unusable_certificate_files_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let made = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    std::fs::write(&cert, pem("CERTIFICATE", made.cert.der())).unwrap();
    let cert = cert.to_str().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    for (args, says) in [
        (vec!["--tls-cert", cert], vec!["--tls-key"]),
        // The certificate file given as the key: it holds no key.
        (
            vec!["--tls-cert", cert, "--tls-key", cert],
            vec!["private key", "cert.pem"],
        ),
        (
            vec!["--tls-cert", missing, "--tls-key", cert],
            vec!["missing.pem"],
        ),
        (vec!["--tls-cert-out", cert], vec!["--tls"]),
    ] {
        let out = tokio::process::Command::new(BIN)
            .args(["--port", "0"])
            .args(&args)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for word in says {
            assert!(stderr.contains(word), "{args:?}: {word} in {stderr}");
        }
    }
}
