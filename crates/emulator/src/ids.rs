//! Identifier formats the real API uses (`event_…`, `item_…`, `ek_…`, `rtc_…`), so clients that sniff
//! prefixes (agents-js checks `ek_`, Codex looks for `rtc_`) behave as they would against OpenAI.

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` random base62 characters (from v4 UUIDs: good enough randomness, no extra dependency).
fn base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in uuid::Uuid::new_v4().as_bytes() {
            // 248 = 62 * 4: rejecting the tail keeps the distribution uniform.
            if *byte < 248 && out.len() < len {
                out.push(BASE62[(*byte % 62) as usize] as char);
            }
        }
    }
    out
}

pub fn event_id() -> String {
    format!("event_{}", base62(21))
}

pub fn item_id() -> String {
    format!("item_{}", base62(21))
}

pub fn response_id() -> String {
    format!("resp_{}", base62(21))
}

pub fn session_id() -> String {
    format!("sess_{}", base62(21))
}

pub fn conversation_id() -> String {
    format!("conv_{}", base62(21))
}

/// Function-call ids (`call_` + 16 base62, as observed).
pub fn function_call_id() -> String {
    format!("call_{}", base62(16))
}

/// Ephemeral client secrets: `ek_` + 32 hex.
pub fn ephemeral_key() -> String {
    format!("ek_{}", uuid::Uuid::new_v4().simple())
}

/// WebRTC call ids in the documented `rtc_u1_<32 hex>` shape.
pub fn call_id() -> String {
    format!("rtc_u1_{}", uuid::Uuid::now_v7().simple())
}

/// Incoming SIP call ids in the webhook example's `rtc_<32 hex>` shape.
pub fn sip_call_id() -> String {
    format!("rtc_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shapes() {
        assert_eq!(event_id().len(), "event_".len() + 21);
        assert!(ephemeral_key().starts_with("ek_"));
        assert_eq!(ephemeral_key().len(), 35);
        assert!(call_id().starts_with("rtc_"));
        assert!(
            function_call_id()
                .chars()
                .skip(5)
                .all(|c| c.is_ascii_alphanumeric())
        );
    }
}
