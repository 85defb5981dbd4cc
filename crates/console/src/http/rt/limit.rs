//! The per-client-IP rate limit of the endpoints that mint keys and start calls.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::super::error::ApiError;
use crate::AppState;
use crate::settings::RateLimit;

/// Past this many remembered clients, the ones whose budget is full again are forgotten.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// `--rt-rate-per-min` requests a minute per client IP, `--rt-rate-burst` at once; off when the rate is 0.
pub struct RtRateLimit(Option<DefaultKeyedRateLimiter<IpAddr>>);

impl RtRateLimit {
    pub fn new(rate: RateLimit) -> Self {
        let limiter = NonZeroU32::new(rate.per_min).and_then(|per_min| {
            let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
            let quota =
                Quota::with_period(Duration::from_secs(60) / per_min.get())?.allow_burst(burst);
            Some(DefaultKeyedRateLimiter::keyed(quota))
        });
        Self(limiter)
    }

    /// `Err(seconds)` to wait when `ip` is over its budget.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED_CLIENTS {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Extracting this spends one request of the caller's budget, or answers 429 with `Retry-After`.
pub struct Admitted;

impl FromRequestParts<AppState> for Admitted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Without connection info (a router driven by `oneshot`) every caller shares one budget.
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        state
            .rt_limit
            .check(ip)
            .map(|()| Admitted)
            .map_err(|retry_after_secs| ApiError::RateLimited {
                retry_after_secs: retry_after_secs.max(1),
            })
    }
}
