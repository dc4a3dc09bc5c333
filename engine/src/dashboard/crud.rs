//! Dashboards and alert rules persisted as [`Store`] documents, validated on every write.
//!
//! One generic [`DocStore`] serves both kinds: create (assigning a unique id derived from the
//! name when none is given; `Conflict` when the id exists), list (ordered by id), get, update
//! (`NotFound` when missing; the body's id, if any, must match) and delete. Stored bodies are
//! the canonical JSON of the typed value, so what the API returns is exactly what is evaluated.
//! Create is check-then-put: two concurrent creates of the same explicit id end with the later
//! one stored (documents have no compare-and-set in the store trait).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::DashboardError;
use super::alert::{AlertRule, AlertState};
use super::model::Dashboard;
use super::parse::{check_id, parse_dashboard, slugify, unique_id};
use crate::store::Store;

/// Document kind of the evaluator state of an alert (same id as the rule).
pub const ALERT_STATE_KIND: &str = "alert_state";

/// A typed document kind.
pub trait Doc: Serialize + DeserializeOwned + Clone {
    /// The store's document kind (`dashboard`, `alert`).
    const KIND: &'static str;
    fn id(&self) -> Option<&str>;
    fn set_id(&mut self, id: String);
    fn name(&self) -> &str;
    /// Parses and validates a request body.
    fn from_body(body: &Value) -> Result<Self, DashboardError>;
}

/// The `id` / `name` accessors of a document type with those two fields.
macro_rules! doc_fields {
    () => {
        fn id(&self) -> Option<&str> {
            self.id.as_deref()
        }
        fn set_id(&mut self, id: String) {
            self.id = Some(id);
        }
        fn name(&self) -> &str {
            &self.name
        }
    };
}

impl Doc for Dashboard {
    const KIND: &'static str = "dashboard";
    doc_fields!();
    fn from_body(body: &Value) -> Result<Self, DashboardError> {
        parse_dashboard(body)
    }
}

impl Doc for AlertRule {
    const KIND: &'static str = "alert";
    doc_fields!();
    fn from_body(body: &Value) -> Result<Self, DashboardError> {
        let rule: AlertRule = serde_path_to_error::deserialize(body).map_err(|e| {
            let name = body.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
            DashboardError::Invalid(format!("alert \"{name}\", field `{}`: {}", e.path(), e.inner()))
        })?;
        rule.check()
            .map_err(|m| DashboardError::Invalid(format!("alert \"{}\": {m}", rule.name)))?;
        if let Some(id) = &rule.id {
            check_id(id)
                .map_err(|m| DashboardError::Invalid(format!("alert \"{}\", field `id`: {m}", rule.name)))?;
        }
        Ok(rule)
    }
}

/// CRUD of one document kind in one project.
pub struct DocStore<'a, T: Doc> {
    store: &'a dyn Store,
    project: &'a str,
    _kind: std::marker::PhantomData<T>,
}

/// Dashboards of a project.
pub type DashboardStore<'a> = DocStore<'a, Dashboard>;
/// Alert rules of a project.
pub type AlertStore<'a> = DocStore<'a, AlertRule>;

impl<'a, T: Doc> DocStore<'a, T> {
    pub fn new(store: &'a dyn Store, project: &'a str) -> Self {
        DocStore {
            store,
            project,
            _kind: std::marker::PhantomData,
        }
    }

    fn not_found(id: &str) -> DashboardError {
        DashboardError::NotFound {
            kind: T::KIND,
            id: id.to_string(),
        }
    }

    async fn put(&self, doc: &T) -> Result<(), DashboardError> {
        let id = doc.id().unwrap_or_default();
        let body = serde_json::to_value(doc).map_err(|e| DashboardError::Invalid(e.to_string()))?;
        self.store.put_document(T::KIND, self.project, id, &body).await?;
        Ok(())
    }

    /// Validates `body` and stores it under its id (or a fresh one derived from its name).
    pub async fn create_from_body(&self, body: &Value) -> Result<T, DashboardError> {
        self.create(T::from_body(body)?).await
    }

    pub async fn create(&self, mut doc: T) -> Result<T, DashboardError> {
        match doc.id() {
            Some(id) => {
                if self
                    .store
                    .get_document(T::KIND, self.project, id)
                    .await?
                    .is_some()
                {
                    return Err(DashboardError::Conflict {
                        kind: T::KIND,
                        id: id.to_string(),
                    });
                }
            }
            None => {
                let existing: Vec<String> = self.ids().await?;
                let id = unique_id(&slugify(doc.name()), |c| existing.iter().any(|e| e == c));
                doc.set_id(id);
            }
        }
        self.put(&doc).await?;
        Ok(doc)
    }

    async fn ids(&self) -> Result<Vec<String>, DashboardError> {
        let docs = self.store.list_documents(T::KIND, self.project).await?;
        Ok(docs.into_iter().map(|(id, _)| id).collect())
    }

    /// Every document, ordered by id. Bodies that no longer parse are skipped with a warning.
    pub async fn list(&self) -> Result<Vec<T>, DashboardError> {
        let docs = self.store.list_documents(T::KIND, self.project).await?;
        let mut out = Vec::with_capacity(docs.len());
        for (id, body) in docs {
            match decode::<T>(&id, body) {
                Ok(d) => out.push(d),
                Err(e) => tracing::warn!(kind = T::KIND, id, error = %e, "skipping unreadable document"),
            }
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<T, DashboardError> {
        let body = self
            .store
            .get_document(T::KIND, self.project, id)
            .await?
            .ok_or_else(|| Self::not_found(id))?;
        decode(id, body)
    }

    /// Replaces document `id` with `body` (validated; its `id`, if present, must be `id`).
    pub async fn update_from_body(&self, id: &str, body: &Value) -> Result<T, DashboardError> {
        self.update(id, T::from_body(body)?).await
    }

    pub async fn update(&self, id: &str, mut doc: T) -> Result<T, DashboardError> {
        if let Some(given) = doc.id().filter(|g| *g != id) {
            return Err(DashboardError::Invalid(format!(
                "{} id `{given}` in the body differs from `{id}` in the path",
                T::KIND
            )));
        }
        if self
            .store
            .get_document(T::KIND, self.project, id)
            .await?
            .is_none()
        {
            return Err(Self::not_found(id));
        }
        doc.set_id(id.to_string());
        self.put(&doc).await?;
        Ok(doc)
    }

    pub async fn delete(&self, id: &str) -> Result<(), DashboardError> {
        if !self.store.delete_document(T::KIND, self.project, id).await? {
            return Err(Self::not_found(id));
        }
        if T::KIND == AlertRule::KIND {
            self.store
                .delete_document(ALERT_STATE_KIND, self.project, id)
                .await?;
        }
        Ok(())
    }

    /// Creates or replaces each document (ids required, e.g. from [`super::parse_dashboards`]);
    /// for `footfall serve --demo` and file imports.
    pub async fn upsert_all(&self, docs: &[T]) -> Result<(), DashboardError> {
        for d in docs {
            if d.id().is_none() {
                return Err(DashboardError::Invalid(format!(
                    "{} `{}` has no id",
                    T::KIND,
                    d.name()
                )));
            }
            self.put(d).await?;
        }
        Ok(())
    }
}

fn decode<T: Doc>(id: &str, mut body: Value) -> Result<T, DashboardError> {
    if let Value::Object(m) = &mut body {
        m.entry("id").or_insert_with(|| Value::String(id.to_string()));
    }
    serde_json::from_value(body)
        .map_err(|e| DashboardError::Invalid(format!("stored {} `{id}` is unreadable: {e}", T::KIND)))
}

/// The evaluator state of an alert (default when never evaluated).
pub async fn load_alert_state(
    store: &dyn Store,
    project: &str,
    id: &str,
) -> Result<AlertState, DashboardError> {
    Ok(match store.get_document(ALERT_STATE_KIND, project, id).await? {
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
        None => AlertState::default(),
    })
}

pub async fn save_alert_state(
    store: &dyn Store,
    project: &str,
    id: &str,
    state: &AlertState,
) -> Result<(), DashboardError> {
    let body = serde_json::to_value(state).map_err(|e| DashboardError::Invalid(e.to_string()))?;
    store.put_document(ALERT_STATE_KIND, project, id, &body).await?;
    Ok(())
}
