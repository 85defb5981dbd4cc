//! OpenAI's published Realtime schemas (`../shared/realtime/openai-realtime.schema.json` and
//! `event-types.json`): validate a value against one of its `$defs`, or a server event against the
//! definition its `type` names, recording which types were seen. Missing files fail the test, never skip it:
//! passing without checking would hide a broken checkout.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

pub struct Schemas {
    doc: Value,
    /// Server event `type` → `$defs` name.
    server: HashMap<String, String>,
    validators: Mutex<HashMap<String, &'static jsonschema::Validator>>,
    seen: Mutex<BTreeSet<String>>,
}

fn shared_dir() -> PathBuf {
    crate::workspace_dir().join("../shared/realtime")
}

fn load(name: &str) -> Value {
    let path = shared_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing reference file {}: {e}. These tests need shared/realtime/{name} beside the repository \
             (see shared/realtime/README.md).",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// The schemas, loaded once per test binary.
pub fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(|| {
        let doc = load("openai-realtime.schema.json");
        let types = load("event-types.json");
        let server = types["server"]
            .as_object()
            .expect("event-types.json has a \"server\" map")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("$defs name").to_owned()))
            .collect();
        Schemas {
            doc,
            server,
            validators: Mutex::default(),
            seen: Mutex::default(),
        }
    })
}

/// Asserts `instance` is valid against `#/$defs/{definition}`.
pub fn assert_valid(definition: &str, instance: &Value) {
    schemas().assert_valid(definition, instance);
}

impl Schemas {
    /// Every server event type the schema defines.
    pub fn server_types(&self) -> BTreeSet<String> {
        self.server.keys().cloned().collect()
    }

    /// Server event types validated so far in this test binary.
    pub fn seen(&self) -> BTreeSet<String> {
        self.seen.lock().unwrap().clone()
    }

    fn validator(&self, def: &str) -> &'static jsonschema::Validator {
        let mut cache = self.validators.lock().unwrap();
        if let Some(v) = cache.get(def) {
            return v;
        }
        assert!(
            self.doc["$defs"].get(def).is_some(),
            "no $defs/{def} in openai-realtime.schema.json"
        );
        let mut root = self.doc.clone();
        root["$ref"] = json!(format!("#/$defs/{def}"));
        // Compiled once per definition and kept for the test binary's life.
        let v: &'static jsonschema::Validator = Box::leak(Box::new(
            jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema {def}: {e}")),
        ));
        cache.insert(def.to_owned(), v);
        v
    }

    /// Panics with every violation if `instance` does not validate against `$defs/def`.
    pub fn assert_valid(&self, def: &str, instance: &Value) {
        let errors: Vec<String> = self
            .validator(def)
            .iter_errors(instance)
            .map(|e| format!("{e} (at {})", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "not a valid {def}:\n{}\n{:#}",
            errors.join("\n"),
            instance
        );
    }

    /// Validates one server event against its own definition and records its type.
    pub fn check_server_event(&self, event: &Value) {
        let ty = event["type"]
            .as_str()
            .unwrap_or_else(|| panic!("server event without type: {event}"));
        let def = self
            .server
            .get(ty)
            .unwrap_or_else(|| panic!("'{ty}' is not a server event type of the schema"));
        self.assert_valid(def, event);
        self.seen.lock().unwrap().insert(ty.to_owned());
    }
}
