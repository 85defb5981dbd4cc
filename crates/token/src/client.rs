//! The HTTP client for the three upstream endpoints the console needs: mint, call, hang up.

use std::fmt;
use std::time::Duration;

use reqwest::header::{LOCATION, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::call_id::CallId;
use crate::error::{ApiError, Error, ErrorEnvelope, Result, scrub, without_quoted_values};
use crate::secret::{ApiKey, EphemeralKey, KeyFingerprint};
use crate::session::SessionConfig;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Where the API is and how long to wait for it.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The API root including `/v1`, as in `OPENAI_BASE_URL`.
    pub base_url: String,
    pub api_key: ApiKey,
    /// How long to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// How long a whole request may take, body included.
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(api_key: ApiKey) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// `expires_after` of a client secret: seconds from creation, 10–7200 (PROTOCOL §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExpiresAfter {
    anchor: &'static str,
    seconds: u32,
}

impl ExpiresAfter {
    pub const MIN_SECONDS: u32 = 10;
    pub const MAX_SECONDS: u32 = 7200;

    pub fn seconds(seconds: u32) -> Result<Self> {
        if (Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(Self {
                anchor: "created_at",
                seconds,
            })
        } else {
            Err(Error::InvalidInput {
                reason: format!(
                    "expires_after.seconds must be between {} and {}",
                    Self::MIN_SECONDS,
                    Self::MAX_SECONDS
                ),
                param: "expires_after.seconds",
            })
        }
    }

    pub fn as_secs(&self) -> u32 {
        self.seconds
    }
}

/// A minted ephemeral key and the session it starts.
pub struct ClientSecret {
    pub value: EphemeralKey,
    /// Unix seconds after which the key can no longer start sessions.
    pub expires_at: i64,
    /// The effective session as upstream reports it.
    pub session: SessionConfig,
    response: Value,
}

impl ClientSecret {
    /// The whole upstream response, key included, for the one response that hands it to the browser.
    /// Store or log [`ClientSecret::fingerprint`] instead.
    pub fn expose_response_json(&self) -> &Value {
        &self.response
    }

    pub fn fingerprint(&self) -> KeyFingerprint {
        self.value.fingerprint()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecret")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Upstream's answer to a forwarded SDP offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallAnswer {
    pub call_id: CallId,
    pub sdp: String,
}

#[derive(Serialize)]
struct ClientSecretRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_after: Option<ExpiresAfter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<Value>,
}

/// The only client of the upstream Realtime API in the workspace. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: ApiKey,
    timeout: Duration,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(Error::Config(
                    "the base URL must be an http(s) URL such as https://api.openai.com/v1",
                ));
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(Error::Build)?;
        Ok(Self {
            http,
            base_url,
            api_key: config.api_key,
            timeout: config.timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Mints an ephemeral key: `POST /realtime/client_secrets` (PROTOCOL §2).
    ///
    /// Never retried, here or by the caller automatically: minting is not idempotent, and a request
    /// that timed out may still have minted a key upstream.
    #[tracing::instrument(skip_all)]
    pub async fn create_client_secret(
        &self,
        session: Option<&SessionConfig>,
        expires_after: Option<ExpiresAfter>,
    ) -> Result<ClientSecret> {
        let url = format!("{}/realtime/client_secrets", self.base_url);
        let body = ClientSecretRequest {
            expires_after,
            session: session.map(request_session),
        };
        let response = self.send(self.http.post(&url).json(&body), &url).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e, &url))?;
        let secret = parse_client_secret(status, &bytes)?;
        tracing::info!(
            key = %secret.fingerprint(),
            expires_at = secret.expires_at,
            "minted an ephemeral key"
        );
        Ok(secret)
    }

    /// Forwards a browser's SDP offer: `POST /realtime/calls` as `multipart/form-data` with an `sdp`
    /// part and an optional `session` part, authenticated with the standard key (PROTOCOL §3.2).
    ///
    /// Not retried either: a second attempt would start a second call.
    #[tracing::instrument(skip_all)]
    pub async fn create_call(
        &self,
        sdp_offer: &str,
        session: Option<&SessionConfig>,
    ) -> Result<CallAnswer> {
        let url = format!("{}/realtime/calls", self.base_url);
        let request_error = |source| Error::Request {
            url: url.clone(),
            source,
        };
        let sdp = Part::text(sdp_offer.to_owned())
            .mime_str("application/sdp")
            .map_err(request_error)?;
        let mut form = Form::new().part("sdp", sdp);
        if let Some(session) = session {
            let json = request_session(session).to_string();
            let part = Part::text(json)
                .mime_str("application/json")
                .map_err(request_error)?;
            form = form.part("session", part);
        }
        let response = self
            .send(self.http.post(&url).multipart(form), &url)
            .await?;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let sdp = response
            .text()
            .await
            .map_err(|e| self.transport_error(e, &url))?;
        let answer = parse_call_answer(status, location.as_deref(), sdp)?;
        tracing::info!(call_id = %answer.call_id, "created a call");
        Ok(answer)
    }

    /// Ends a call: `POST /realtime/calls/{call_id}/hangup` (PROTOCOL §3.4).
    #[tracing::instrument(skip_all, fields(call_id = %call_id))]
    pub async fn hangup(&self, call_id: &CallId) -> Result<()> {
        let url = format!("{}/realtime/calls/{call_id}/hangup", self.base_url);
        self.send(self.http.post(&url), &url).await?;
        tracing::info!("hung up");
        Ok(())
    }

    /// Sends with the standard key and turns a non-2xx answer into [`Error::Upstream`].
    async fn send(&self, request: RequestBuilder, url: &str) -> Result<Response> {
        // `bearer_auth` marks the header sensitive, so reqwest's own Debug output hides it too.
        let response = request
            .bearer_auth(self.api_key.expose())
            .send()
            .await
            .map_err(|e| self.transport_error(e, url))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let error = self.upstream_error(response, url).await;
        tracing::warn!(error = %error, "the Realtime API refused a request");
        Err(error)
    }

    async fn upstream_error(&self, response: Response, url: &str) -> Error {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return self.transport_error(e, url),
        };
        let error = match serde_json::from_slice::<ErrorEnvelope>(&body) {
            Ok(envelope) => self.scrubbed(envelope.error),
            // Proxies in front of the API answer HTML or nothing; the status still says what happened.
            Err(_) => ApiError {
                message: format!("HTTP {status} without an error envelope"),
                kind: "upstream_error".to_owned(),
                code: None,
                param: None,
            },
        };
        Error::Upstream {
            status,
            error,
            retry_after,
        }
    }

    fn scrubbed(&self, error: ApiError) -> ApiError {
        let key = self.api_key.expose();
        ApiError {
            message: scrub(&error.message, key),
            kind: scrub(&error.kind, key),
            code: error.code.map(|c| scrub(&c, key)),
            param: error.param.map(|p| scrub(&p, key)),
        }
    }

    fn transport_error(&self, source: reqwest::Error, url: &str) -> Error {
        let url = url.to_owned();
        if source.is_timeout() {
            Error::Timeout {
                url,
                timeout: self.timeout,
            }
        } else if source.is_connect() {
            Error::Connect { url, source }
        } else {
            Error::Request { url, source }
        }
    }
}

/// A session as a request body: response-only fields (`id`, `object`, `expires_at`) removed, since
/// the API rejects unknown parameters and an effective session may be passed back in.
fn request_session(session: &SessionConfig) -> Value {
    let mut json = session.to_json();
    if let Some(map) = json.as_object_mut() {
        for field in ["id", "object", "expires_at"] {
            map.remove(field);
        }
    }
    json
}

fn parse_client_secret(status: StatusCode, body: &[u8]) -> Result<ClientSecret> {
    let invalid = |reason: String| Error::InvalidResponse { status, reason };
    let response: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "not JSON: {}",
            without_quoted_values(&e.to_string())
        ))
    })?;
    let value = response
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("no string `value`".to_owned()))?;
    let expires_at = response
        .get("expires_at")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("no integer `expires_at`".to_owned()))?;
    let session = response
        .get("session")
        .cloned()
        .ok_or_else(|| invalid("no `session`".to_owned()))?;
    let session = SessionConfig::from_json(session).map_err(|e| invalid(e.to_string()))?;
    Ok(ClientSecret {
        value: EphemeralKey::new(value),
        expires_at,
        session,
        response,
    })
}

fn parse_call_answer(
    status: StatusCode,
    location: Option<&str>,
    sdp: String,
) -> Result<CallAnswer> {
    let invalid = |reason: String| Error::InvalidResponse { status, reason };
    let location = location.ok_or_else(|| invalid("no Location header".to_owned()))?;
    let call_id = CallId::from_location(location).ok_or_else(|| {
        let shown: String = location.chars().take(120).collect();
        invalid(format!(
            "the Location header `{shown}` does not end in an rtc_ call id"
        ))
    })?;
    if !sdp.trim_start().starts_with("v=") {
        return Err(invalid("the body is not an SDP answer".to_owned()));
    }
    Ok(CallAnswer { call_id, sdp })
}
