//! Serde glue for fields where an explicit `null` means something other than "absent".
//!
//! `turn_detection: null` turns voice activity detection off, while a missing `turn_detection`
//! keeps the current one (PROTOCOL §5.3). Such fields are `Option<Option<T>>`: `None` is absent,
//! `Some(None)` is `null`. Use with `#[serde(default, skip_serializing_if = "Option::is_none",
//! with = "nullable")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    // Only called when the key is present, so even `null` is "present".
    Option::<T>::deserialize(deserializer).map(Some)
}

pub(crate) fn serialize<S, T>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
{
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}
