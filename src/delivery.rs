//! Delivery policy: what a send outcome means for the messages of a batch.
//!
//! | outcome | verdict |
//! |---|---|
//! | 2xx | delivered; messages listed in the body's `rejected` are dropped (`rejected`) |
//! | 413 | split: the messages go back and the next batches carry half as many (a single message is dropped, `too_large`) |
//! | 429, 503 | retry after `Retry-After` when given, else after the backoff |
//! | other 4xx | dropped (`rejected`), with the collector's per-message reasons when it gave them |
//! | 5xx, 1xx/3xx, network error | retry after the backoff |
//! | beacon queued / not queued | delivered / retry |
//!
//! Backoff is exponential with full jitter: after the n-th consecutive failed batch the next
//! attempt waits a uniformly random time in `0..=min(cap, base·2^(n-1))` (base 1 s, cap 60 s by
//! default). A message is dropped after `max_attempts` failed attempts (`retries_exhausted`) or
//! once older than `max_age` (`expired`). A 413 does not count as a failed attempt.

use crate::json::{Value, push_u64};
use crate::message::{BatchResponse, RejectedMessage};
use crate::rng::{Rng, below_or_equal};

/// The outcome of sending one batch, as the host observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "camelCase")
)]
pub enum Delivery {
    /// An HTTP response: status code, the raw `Retry-After` header and the raw body, if any.
    #[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
    Http {
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    /// No HTTP response (connection refused, timeout, DNS, offline).
    NetworkError { detail: String },
    /// `navigator.sendBeacon`'s return value: `true` = the browser queued it (assumed delivered).
    Beacon { queued: bool },
}

impl Delivery {
    /// An HTTP response without headers or body of interest.
    pub fn status(status: u16) -> Delivery {
        Delivery::Http {
            status,
            retry_after: None,
            body: None,
        }
    }
}

/// What the core does with a batch after a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered; these were rejected individually (as the collector's answer lists them).
    Delivered { rejected: Vec<RejectedMessage> },
    /// Try again later: after `after_ms` if the server said so, else after the backoff.
    Retry { after_ms: Option<u64>, cause: String },
    /// Payload too large: send again in smaller batches.
    Split,
    /// Refused for good: drop every message, with per-message reasons where known.
    Refused {
        reasons: Vec<RejectedMessage>,
        cause: String,
    },
}

impl BatchResponse {
    /// Reads the collector's answer (`{"accepted": n, "rejected": [{"index", "messageId"?,
    /// "reason"}]}`); `None` when the body is not such an object.
    pub fn from_json(text: &str) -> Option<BatchResponse> {
        let Value::Object(mut map) = crate::json::parse(text).ok()? else {
            return None;
        };
        let accepted = usize::try_from(map.get("accepted")?.as_u64()?).ok()?;
        let mut rejected = Vec::new();
        match map.remove("rejected") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in &items {
                    let index = usize::try_from(item.get("index")?.as_u64()?).ok()?;
                    let reason = item.get("reason")?.as_str()?.to_string();
                    let message_id = match item.get("messageId") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(v.as_str()?.to_string()),
                    };
                    rejected.push(RejectedMessage {
                        index,
                        message_id,
                        reason,
                    });
                }
            }
            Some(_) => return None,
        }
        Some(BatchResponse { accepted, rejected })
    }
}

fn rejections(body: Option<&str>) -> Vec<RejectedMessage> {
    body.and_then(BatchResponse::from_json)
        .map(|r| r.rejected)
        .unwrap_or_default()
}

/// `"HTTP <status>"`.
fn http_cause(status: u16) -> String {
    let mut s = String::from("HTTP ");
    push_u64(&mut s, u64::from(status));
    s
}

/// Classifies `delivery` (see the module docs). `now` resolves HTTP-date `Retry-After` values.
pub fn classify(delivery: &Delivery, now: u64) -> Verdict {
    match delivery {
        Delivery::Beacon { queued: true } => Verdict::Delivered { rejected: Vec::new() },
        Delivery::Beacon { queued: false } => Verdict::Retry {
            after_ms: None,
            cause: "beacon not queued".to_string(),
        },
        Delivery::NetworkError { detail } => Verdict::Retry {
            after_ms: None,
            cause: String::from("network: ") + detail,
        },
        Delivery::Http {
            status,
            retry_after,
            body,
        } => {
            let status = *status;
            let cause = http_cause(status);
            match status {
                200..=299 => Verdict::Delivered {
                    rejected: rejections(body.as_deref()),
                },
                413 => Verdict::Split,
                429 | 503 => Verdict::Retry {
                    after_ms: retry_after
                        .as_deref()
                        .and_then(|v| crate::time::retry_after_ms(v, now)),
                    cause,
                },
                400..=499 => Verdict::Refused {
                    reasons: rejections(body.as_deref()),
                    cause,
                },
                _ => Verdict::Retry {
                    after_ms: None,
                    cause,
                },
            }
        }
    }
}

/// Full-jitter exponential backoff for the `failures`-th consecutive failure (1-based), in ms.
pub fn backoff_ms(failures: u32, base_ms: u64, cap_ms: u64, rng: &mut dyn Rng) -> u64 {
    let exp = failures.saturating_sub(1).min(40);
    let ceiling = base_ms.saturating_mul(1u64 << exp).min(cap_ms);
    below_or_equal(rng, ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Max;
    impl Rng for Max {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(0xff);
        }
    }

    #[test]
    fn status_codes_map_to_verdicts() {
        assert_eq!(
            classify(&Delivery::status(200), 0),
            Verdict::Delivered { rejected: vec![] }
        );
        assert_eq!(classify(&Delivery::status(413), 0), Verdict::Split);
        assert!(matches!(
            classify(&Delivery::status(400), 0),
            Verdict::Refused { .. }
        ));
        assert!(matches!(
            classify(&Delivery::status(401), 0),
            Verdict::Refused { .. }
        ));
        assert!(matches!(
            classify(&Delivery::status(500), 0),
            Verdict::Retry { after_ms: None, .. }
        ));
        assert!(matches!(
            classify(&Delivery::status(302), 0),
            Verdict::Retry { .. }
        ));
        let net = Delivery::NetworkError {
            detail: "refused".into(),
        };
        assert!(matches!(classify(&net, 0), Verdict::Retry { after_ms: None, .. }));
        assert!(matches!(
            classify(&Delivery::Beacon { queued: false }, 0),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        for status in [429, 503] {
            let d = Delivery::Http {
                status,
                retry_after: Some("7".into()),
                body: None,
            };
            assert_eq!(
                classify(&d, 0),
                Verdict::Retry {
                    after_ms: Some(7_000),
                    cause: format!("HTTP {status}")
                }
            );
        }
        let d = Delivery::Http {
            status: 500,
            retry_after: Some("7".into()),
            body: None,
        };
        assert!(matches!(classify(&d, 0), Verdict::Retry { after_ms: None, .. }));
    }

    #[test]
    fn per_message_rejections_are_read_from_the_body() {
        let body = r#"{"accepted":2,"rejected":[{"index":1,"messageId":"m","reason":"missing event"}]}"#;
        let d = Delivery::Http {
            status: 200,
            retry_after: None,
            body: Some(body.into()),
        };
        assert_eq!(
            classify(&d, 0),
            Verdict::Delivered {
                rejected: vec![RejectedMessage {
                    index: 1,
                    message_id: Some("m".into()),
                    reason: "missing event".into()
                }]
            }
        );
        let d = Delivery::Http {
            status: 400,
            retry_after: None,
            body: Some(body.into()),
        };
        assert!(matches!(classify(&d, 0), Verdict::Refused { reasons, .. } if reasons.len() == 1));
        let d = Delivery::Http {
            status: 200,
            retry_after: None,
            body: Some("not json".into()),
        };
        assert_eq!(classify(&d, 0), Verdict::Delivered { rejected: vec![] });
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let ceilings: Vec<u64> = (1..=8).map(|n| backoff_ms(n, 1_000, 60_000, &mut Max)).collect();
        assert_eq!(
            ceilings,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(backoff_ms(200, 1_000, 60_000, &mut Max), 60_000);
    }

    #[test]
    fn batch_responses_are_read_strictly() {
        let r = BatchResponse::from_json(
            r#"{"accepted":1,"rejected":[{"index":2,"messageId":"m","reason":"bad"},{"index":0,"reason":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(r.accepted, 1);
        assert_eq!(r.rejected[0].message_id.as_deref(), Some("m"));
        assert_eq!((r.rejected[1].index, r.rejected[1].reason.as_str()), (0, "x"));
        assert_eq!(
            BatchResponse::from_json(r#"{"accepted":3}"#).unwrap().rejected,
            vec![]
        );
        for bad in [
            r#"{"rejected":[]}"#,
            r#"{"accepted":1,"rejected":[{"index":0}]}"#,
            "[]",
            "x",
        ] {
            assert_eq!(BatchResponse::from_json(bad), None, "{bad}");
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn delivery_deserializes_from_js_objects() {
        let d: Delivery =
            serde_json::from_str(r#"{"kind":"http","status":429,"retryAfter":"3","body":null}"#).unwrap();
        assert_eq!(
            d,
            Delivery::Http {
                status: 429,
                retry_after: Some("3".into()),
                body: None
            }
        );
        let d: Delivery = serde_json::from_str(r#"{"kind":"beacon","queued":true}"#).unwrap();
        assert_eq!(d, Delivery::Beacon { queued: true });
    }
}
