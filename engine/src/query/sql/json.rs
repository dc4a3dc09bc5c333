//! JSON text columns in [`Sql`]: a value's text or number at a key path, whether it is set, and
//! the cheap substring test that spares parsing (see the module docs of [`super`]).

use crate::query::QueryError;
use crate::store::Dialect;

use super::Sql;

impl Sql {
    /// A cheap necessary condition for "the JSON value at some path of the JSON text `col` is
    /// the string `value`", to evaluate before parsing the JSON (parsing every row is the cost
    /// of property filters): `col` contains `"value"` literally, or `col` contains a backslash.
    /// Exact: without any backslash in the text, no JSON string in it is escaped, so a string
    /// value equal to `value` appears literally between quotes. `None` when `value` could also
    /// be the text of a non-string JSON value (a number, `true`/`false`, an object or array,
    /// whose text the backend renders) or needs escaping in JSON (quotes, backslashes, control
    /// characters): the caller then parses every row.
    pub fn json_string_precheck(&self, col: &str, value: &str) -> Result<Option<String>, QueryError> {
        let first = match value.chars().next() {
            Some(c) => c,
            None => return Ok(None),
        };
        let lower = value.to_ascii_lowercase();
        let renders_as_non_string = first.is_ascii_digit()
            || first.is_whitespace()
            || matches!(first, '-' | '+' | '.' | '{' | '[')
            || ["true", "false", "null", "inf", "infinity", "nan"].contains(&lower.as_str());
        let needs_escape = value.chars().any(|c| c == '"' || c == '\\' || c.is_control());
        if renders_as_non_string || needs_escape {
            return Ok(None);
        }
        Ok(Some(format!(
            "({} OR {})",
            self.contains(col, &self.lit(&format!("\"{value}\""))?),
            self.contains(col, &self.lit("\\")?)
        )))
    }

    /// The text of a JSON value at `path` inside the JSON text column `col`.
    pub fn json_text(&self, col: &str, path: &[String]) -> Result<String, QueryError> {
        Ok(match self.dialect {
            Dialect::DuckDb => format!("json_extract_string({col}, {})", self.duck_path(path)?),
            Dialect::Postgres => format!(
                "jsonb_extract_path_text(CAST({col} AS jsonb), {})",
                self.pg_keys(path)?
            ),
            Dialect::ClickHouse => {
                let (parent, last) = self.ch_parent(col, path)?;
                let raw = format!("visitParamExtractRaw({parent}, {last})");
                format!(
                    "if(substring({raw}, 1, 1) = '\"', visitParamExtractString({parent}, {last}), \
                     nullIf(nullIf({raw}, ''), 'null'))"
                )
            }
        })
    }

    /// The number at `path` when the JSON value there is a number, else NULL.
    pub fn json_num(&self, col: &str, path: &[String]) -> Result<String, QueryError> {
        Ok(match self.dialect {
            Dialect::DuckDb => {
                let p = self.duck_path(path)?;
                format!(
                    "(CASE WHEN json_type({col}, {p}) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') \
                     THEN TRY_CAST(json_extract_string({col}, {p}) AS DOUBLE) END)"
                )
            }
            Dialect::Postgres => {
                let keys = self.pg_keys(path)?;
                format!(
                    "(CASE WHEN jsonb_typeof(jsonb_extract_path(CAST({col} AS jsonb), {keys})) = 'number' \
                     THEN CAST(jsonb_extract_path_text(CAST({col} AS jsonb), {keys}) AS DOUBLE PRECISION) END)"
                )
            }
            Dialect::ClickHouse => {
                let (parent, last) = self.ch_parent(col, path)?;
                format!("toFloat64OrNull(visitParamExtractRaw({parent}, {last}))")
            }
        })
    }

    /// Whether `path` is present with a non-null value.
    pub fn json_is_set(&self, col: &str, path: &[String]) -> Result<String, QueryError> {
        Ok(match self.dialect {
            Dialect::DuckDb => {
                let p = self.duck_path(path)?;
                format!("coalesce(json_type({col}, {p}) <> 'NULL', false)")
            }
            Dialect::Postgres => {
                let keys = self.pg_keys(path)?;
                format!(
                    "coalesce(jsonb_typeof(jsonb_extract_path(CAST({col} AS jsonb), {keys})) <> 'null', false)"
                )
            }
            Dialect::ClickHouse => {
                let (parent, last) = self.ch_parent(col, path)?;
                format!("(visitParamExtractRaw({parent}, {last}) NOT IN ('', 'null'))")
            }
        })
    }

    fn duck_path(&self, path: &[String]) -> Result<String, QueryError> {
        // Keys are validated (no quotes, backslashes or control characters), so quoting each
        // key in the JSON path is exact; the whole path is then one escaped literal.
        let p: String = path.iter().map(|k| format!(".\"{k}\"")).collect();
        self.lit(&format!("${p}"))
    }

    fn pg_keys(&self, path: &[String]) -> Result<String, QueryError> {
        Ok(path
            .iter()
            .map(|k| self.lit(k))
            .collect::<Result<Vec<_>, _>>()?
            .join(", "))
    }

    /// ClickHouse: the raw JSON text of the parent object of `path`'s last key, and that key.
    fn ch_parent(&self, col: &str, path: &[String]) -> Result<(String, String), QueryError> {
        let (last, init) = path
            .split_last()
            .ok_or_else(|| QueryError::Invalid("empty JSON path".into()))?;
        let mut parent = col.to_string();
        for k in init {
            parent = format!("visitParamExtractRaw({parent}, {})", self.lit(k)?);
        }
        Ok((parent, self.lit(last)?))
    }
}
