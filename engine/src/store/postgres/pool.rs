//! The location and the pool: our parameters (`schema=`, `timeout=`, `query_timeout=`) are taken
//! off the URL, the rest goes to tokio-postgres; deadpool bounds connecting, waiting for and
//! recycling a connection by the operation timeout.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::PostgresStore;
use crate::store::{StoreError, Timeouts, common};

/// Pool size (connections per store handle; default 16).
const POOL_SIZE: usize = 16;

/// Splits our parameters (`schema=`, `timeout=`, `query_timeout=`) off a PostgreSQL URL.
fn split_params(url: &str) -> Result<(String, Option<String>, Timeouts), StoreError> {
    let mut timeouts = Timeouts::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, timeouts));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if key == "schema" {
            schema = Some(value.to_string());
        } else if !timeouts.take_param(key, value)? {
            rest.push(param);
        }
    }
    if let Some(name) = &schema {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::Config(format!(
                "invalid schema {name:?} in {}: use lowercase letters, digits and _",
                common::redact_location(url)
            )));
        }
    }
    let base = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((base, schema, timeouts))
}

impl PostgresStore {
    /// Builds the pool for `url` (no connection is made until first use).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let location = common::redact_location(url);
        let (base, schema, timeouts) = split_params(url)?;
        let mut cfg = tokio_postgres::Config::from_str(&base)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL location {location}: {e}")))?;
        if cfg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StoreError::Config(format!(
                "{location}: TLS (sslmode=require) is not supported yet"
            )));
        }
        if let Some(schema) = &schema {
            let options = match cfg.get_options() {
                Some(o) => format!("{o} -c search_path={schema}"),
                None => format!("-c search_path={schema}"),
            };
            cfg.options(&options);
        }
        cfg.application_name("footfall");
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(timeouts.operation);
        }
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeouts.operation))
            .create_timeout(Some(timeouts.operation))
            .recycle_timeout(Some(timeouts.operation))
            .build()
            .map_err(|e| StoreError::Config(format!("{location}: {e}")))?;
        Ok(Self {
            pool,
            schema,
            location,
            timeouts,
        })
    }

    /// The location with any password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn takes_our_parameters_off_the_url() {
        let (base, schema, timeouts) =
            split_params("postgres://u@h/db?schema=s1&timeout=3&connect_timeout=9&query_timeout=60").unwrap();
        assert_eq!(base, "postgres://u@h/db?connect_timeout=9");
        assert_eq!(schema.as_deref(), Some("s1"));
        assert_eq!(
            timeouts,
            Timeouts {
                operation: Duration::from_secs(3),
                query: Duration::from_secs(60)
            }
        );
        assert_eq!(split_params("postgres://u@h/db").unwrap().2, Timeouts::default());
        for bad in ["timeout=0", "timeout=", "query_timeout=1.5"] {
            assert!(
                split_params(&format!("postgres://u@h/db?{bad}")).is_err(),
                "{bad}"
            );
        }
    }
}
