//! One project of the configuration: its write keys, browser origins, retention and privacy
//! section.

use serde::{Deserialize, Serialize};

use super::PrivacySettings;

/// One project: its write keys, browser origins and privacy settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub write_keys: Vec<String>,
    /// Browser origins allowed to send events (`Origin` header). Default `["*"]` (any).
    #[serde(default = "any_origin")]
    pub allowed_origins: Vec<String>,
    /// Days events of this project are kept; default `retention.events_days`.
    #[serde(default)]
    pub retention_days: Option<u32>,
    #[serde(default)]
    pub privacy: ProjectPrivacy,
}

fn any_origin() -> Vec<String> {
    vec!["*".to_string()]
}

impl ProjectConfig {
    /// A project with one write key, any origin and default privacy settings.
    pub fn new(id: &str, write_key: &str) -> Self {
        ProjectConfig {
            id: id.to_string(),
            name: None,
            write_keys: vec![write_key.to_string()],
            allowed_origins: any_origin(),
            retention_days: None,
            privacy: ProjectPrivacy::default(),
        }
    }

    /// Whether a browser `Origin` may send to this project.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// A project's privacy section: the *initial* values of its privacy settings
/// ([`PrivacySettings`], every field of `GET/PUT /v1/admin/projects/{id}/privacy`, same names
/// and defaults) plus `hash_salt`. Once an admin changes the settings, the stored settings win
/// over this section (see [`crate::privacy::settings`]).
///
/// For compatibility with earlier config files, `store_raw_ip: true` without `anonymize_ip`
/// means `anonymize_ip: false`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectPrivacy {
    pub settings: PrivacySettings,
    /// The HMAC key of `hash_user_id` (required with it: every collector must use the same).
    /// Default unset; the admin API generates one when `hash_user_id` is turned on there.
    pub hash_salt: Option<String>,
    /// Whether the section set `retention.events_days` itself (else the project's
    /// `retention_days` / the global `retention.events_days` apply).
    pub events_days_set: bool,
}

impl std::ops::Deref for ProjectPrivacy {
    type Target = PrivacySettings;
    fn deref(&self) -> &PrivacySettings {
        &self.settings
    }
}

impl std::ops::DerefMut for ProjectPrivacy {
    fn deref_mut(&mut self) -> &mut PrivacySettings {
        &mut self.settings
    }
}

impl ProjectPrivacy {
    /// Reads the section from JSON (`hash_salt` plus the settings' fields); errors name the field.
    pub fn from_value(value: serde_json::Value) -> Result<ProjectPrivacy, String> {
        let serde_json::Value::Object(mut map) = value else {
            return Err("expected a map of privacy settings".into());
        };
        let hash_salt = match map.remove("hash_salt") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(_) => return Err("hash_salt: expected a string".into()),
        };
        if map.get("store_raw_ip") == Some(&serde_json::Value::Bool(true))
            && !map.contains_key("anonymize_ip")
        {
            map.insert("anonymize_ip".into(), serde_json::Value::Bool(false));
        }
        let events_days_set = map.get("retention").and_then(|r| r.get("events_days")).is_some();
        let settings = crate::privacy::settings::parse_settings(serde_json::Value::Object(map))?;
        Ok(ProjectPrivacy {
            settings,
            hash_salt,
            events_days_set,
        })
    }

    /// The section as JSON (the settings' fields plus `hash_salt` when set; `events_days` only
    /// when the section set it, so a written config reads back the same).
    pub fn to_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.settings).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            if let Some(salt) = &self.hash_salt {
                map.insert("hash_salt".into(), salt.clone().into());
            }
            if !self.events_days_set
                && let Some(serde_json::Value::Object(r)) = map.get_mut("retention")
            {
                r.remove("events_days");
            }
        }
        v
    }
}

impl Serialize for ProjectPrivacy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ProjectPrivacy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        ProjectPrivacy::from_value(value).map_err(serde::de::Error::custom)
    }
}
