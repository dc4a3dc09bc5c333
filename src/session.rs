//! Sessions: a session id that rotates after inactivity or at a maximum length.
//!
//! A session starts with the first event; each event extends it. The next event starts a new
//! session when more than `tracking.session_timeout` (default 30 min) passed since the last one,
//! or when the session is older than `tracking.max_session_length` (default 24 h). Session ids
//! are `s_<start ms>_<8 random hex digits>`. `reset()` and a revoke with id rotation end the
//! session.

use crate::rng::Rng;
use crate::store::SessionState;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Session rotation rules (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRules {
    pub timeout_ms: u64,
    pub max_length_ms: u64,
}

/// What [`touch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Same session, activity time updated.
    Extended,
    /// A new session started.
    Started,
}

/// Whether `session` is still current at `now`.
pub fn is_live(session: &SessionState, now: u64, rules: SessionRules) -> bool {
    now.saturating_sub(session.last_activity) <= rules.timeout_ms
        && now.saturating_sub(session.started_at) < rules.max_length_ms
}

/// Records activity at `now`, rotating the session if it expired.
pub fn touch(session: &mut Option<SessionState>, now: u64, rules: SessionRules, rng: &mut dyn Rng) -> Touch {
    match session {
        Some(s) if is_live(s, now, rules) => {
            s.last_activity = s.last_activity.max(now);
            Touch::Extended
        }
        _ => {
            let suffix = rng.next_u64() as u32;
            let mut id = String::with_capacity(24);
            id.push_str("s_");
            crate::json::push_u64(&mut id, now);
            id.push('_');
            for shift in (0..8).rev() {
                id.push(char::from(HEX[((suffix >> (shift * 4)) & 15) as usize]));
            }
            *session = Some(SessionState {
                id,
                started_at: now,
                last_activity: now,
            });
            Touch::Started
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Rng for Fixed {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(0xab);
        }
    }

    const RULES: SessionRules = SessionRules {
        timeout_ms: 30 * 60_000,
        max_length_ms: 24 * 3_600_000,
    };

    #[test]
    fn starts_extends_and_rotates_after_inactivity() {
        let mut s = None;
        assert_eq!(touch(&mut s, 1_000, RULES, &mut Fixed), Touch::Started);
        assert_eq!(s.as_ref().unwrap().id, "s_1000_abababab");
        assert_eq!(
            touch(&mut s, 1_000 + 30 * 60_000, RULES, &mut Fixed),
            Touch::Extended
        );
        let id = s.as_ref().unwrap().id.clone();
        assert_eq!(
            touch(&mut s, 1_001 + 60 * 60_000, RULES, &mut Fixed),
            Touch::Started
        );
        assert_ne!(s.as_ref().unwrap().id, id);
    }

    #[test]
    fn rotates_at_maximum_length_despite_activity() {
        let mut s = None;
        touch(&mut s, 0, RULES, &mut Fixed);
        let mut t = 0;
        while t + 20 * 60_000 < 24 * 3_600_000 {
            t += 20 * 60_000;
            assert_eq!(touch(&mut s, t, RULES, &mut Fixed), Touch::Extended, "at {t}");
        }
        assert_eq!(touch(&mut s, 24 * 3_600_000, RULES, &mut Fixed), Touch::Started);
    }

    #[test]
    fn out_of_order_timestamps_never_move_activity_back() {
        let mut s = None;
        touch(&mut s, 10_000, RULES, &mut Fixed);
        touch(&mut s, 5_000, RULES, &mut Fixed);
        assert_eq!(s.unwrap().last_activity, 10_000);
    }
}
