//! Helpers shared by the integration tests: the recording upstream and a client pointed at it; the schema
//! checks and the canary key come from the workspace's test kit.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use realtime_token::testing::RecordedRequest;
use realtime_token::{ApiKey, Client, ClientConfig};

#[allow(unused_imports)]
pub use realtime_token::testing::{RecordingUpstream, Reply, Route, fixtures};

#[allow(unused_imports)]
pub use realtime_testkit::console::{CANARY_KEY, assert_no_secret};
#[allow(unused_imports)]
pub use realtime_testkit::schema::assert_valid;

pub fn client_for(upstream: &RecordingUpstream) -> Client {
    client_with(ClientConfig::new(ApiKey::new(CANARY_KEY)).base_url(upstream.base_url()))
}

pub fn client_with(config: ClientConfig) -> Client {
    Client::new(config).expect("client builds")
}

/// The same client with a short total timeout, for upstreams told to stall.
pub fn impatient_client_for(upstream: &RecordingUpstream) -> Client {
    client_with(
        ClientConfig::new(ApiKey::new(CANARY_KEY))
            .base_url(upstream.base_url())
            .timeout(Duration::from_millis(300)),
    )
}

/// The one request the upstream has received.
pub fn only_request(upstream: &RecordingUpstream) -> RecordedRequest {
    let mut requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}
