//! Several instances of the core sharing one store (browser tabs sharing `localStorage`):
//! adopting another instance's persisted queue, and taking over identity and consent changes
//! another instance made.

use super::Core;
use super::consent_api::Record;
use crate::consent::ConsentState;
use crate::store::{PersistedState, StoredMessage};

impl Core {
    /// Queues persisted messages another instance left behind (a tab that closed or crashed
    /// with events queued, whose store partition this host now owns). The same rules as the
    /// startup restore apply: messages whose category is not granted now, or older than
    /// `delivery.max_age`, are dropped (and removed from the store); the queue bound applies;
    /// the rest count in [`crate::Stats::restored`] and keep their message ids. They are not
    /// appended to the store: it already holds them.
    pub fn restore_messages(&mut self, messages: Vec<StoredMessage>, now: u64) {
        self.admit_stored(messages, now);
    }

    /// Another instance changed the shared persisted state (the browser's `storage` event):
    /// take over its anonymous id, user id, session and consent choices. Consent changes have
    /// their usual consequences here too — events of a category that is no longer granted are
    /// purged from the queue and the pending buffer, pending events of a newly granted one are
    /// released — but nothing is saved (the state came from the store) and no
    /// `consent_updated` is emitted (the instance that made the change recorded it). For a
    /// session both instances extend, the later activity wins.
    pub fn sync_state(&mut self, state: PersistedState, now: u64) {
        let PersistedState {
            anonymous_id,
            user_id,
            session,
            consent,
        } = state;
        if let Some(anon) = anonymous_id.filter(|a| !a.is_empty()) {
            self.state.anonymous_id = Some(anon);
        }
        self.state.user_id = user_id;
        self.state.session = match (self.state.session.take(), session) {
            (Some(mut ours), Some(theirs)) if ours.id == theirs.id => {
                ours.last_activity = ours.last_activity.max(theirs.last_activity);
                Some(ours)
            }
            (_, theirs) => theirs,
        };
        if *self.consent.choices() != consent {
            let mut choices = Some(consent);
            self.change_consent(
                "sync",
                "another_instance",
                now,
                Record::Adopted,
                &mut |c: &mut ConsentState| {
                    if let Some(choices) = choices.take() {
                        c.set_choices(choices);
                    }
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::consent::ConsentDecision;
    use crate::store::{PersistedState, Store};
    use crate::testing::{MemoryStore, SeededRng};
    use crate::{Config, Core, Delivery, DropReason, Event};

    const T0: u64 = 1_764_324_000_000;

    fn core(store: &MemoryStore, config: &str, seed: u64) -> Core {
        let config = Config::from_json(config).unwrap();
        Core::new(
            config,
            Box::new(store.clone()),
            Box::new(SeededRng::new(seed)),
            T0,
        )
        .unwrap()
    }

    #[test]
    fn restore_messages_adopts_an_orphaned_queue_without_writing_it_again() {
        // Tab A queues two events in its own store, one of a category later denied, then dies.
        let a_store = MemoryStore::new();
        let mut a = core(&a_store, r#"{"tracking":{"batch_size":100}}"#, 1);
        a.track(Event::track("orphan"), T0);
        a.track(Event::track("ad").category("marketing"), T0);
        a.track(Event::track("stale"), T0);
        drop(a);
        let mut orphans = a_store.clone().load().unwrap().messages;
        orphans[2].enqueued_at = T0 - 13 * 3_600_000; // older than max_age (12 h)

        let b_store = MemoryStore::new();
        let mut b = core(&b_store, r#"{"tracking":{"batch_size":100}}"#, 2);
        b.deny(&["marketing"], T0);
        let appended_before = b_store.appended().len();
        b.restore_messages(orphans.clone(), T0 + 1_000);
        let s = b.stats();
        assert_eq!((s.restored, s.queued), (1, 2), "the orphan joins the audit event");
        assert_eq!(
            (s.dropped(DropReason::Consent), s.dropped(DropReason::Expired)),
            (1, 1)
        );
        assert_eq!(b_store.appended().len(), appended_before, "nothing written again");

        b.flush();
        let batch = b.poll_batch(T0 + 1_000).unwrap();
        let body = String::from_utf8(batch.body.clone()).unwrap();
        assert!(body.contains(&orphans[0].message_id), "same message id: {body}");
        b.report(batch.id, Delivery::status(200), T0 + 1_000);
        assert_eq!(b.stats().sent, 2);
    }

    #[test]
    fn sync_state_takes_over_identity_and_consent_without_saving_or_auditing() {
        let store = MemoryStore::new();
        let cfg = r#"{"consent":{"mode":"opt_in"},"tracking":{"batch_size":100}}"#;
        let mut b = core(&store, cfg, 3);
        b.track(Event::track("waiting"), T0);
        assert_eq!(b.stats().pending_consent, 1);
        let saves_before = store.state();

        // Tab A granted analytics and identified the user.
        let mut theirs = PersistedState {
            anonymous_id: Some("anon-from-a".into()),
            user_id: Some("user_a".into()),
            ..Default::default()
        };
        theirs.consent.insert("analytics".into(), true);
        b.sync_state(theirs.clone(), T0 + 10);
        assert_eq!((b.anonymous_id(), b.user_id()), ("anon-from-a", Some("user_a")));
        assert_eq!(b.consent_decision("analytics"), ConsentDecision::Granted);
        assert_eq!(store.state(), saves_before, "sync_state saves nothing");
        let s = b.stats();
        assert_eq!(
            (s.pending_consent, s.queued),
            (0, 1),
            "released, and no consent_updated"
        );

        // Tab A then denied analytics: B stops at once and purges what it queued.
        theirs.consent.insert("analytics".into(), false);
        b.sync_state(theirs, T0 + 20);
        b.track(Event::track("after_deny"), T0 + 30);
        let s = b.stats();
        assert_eq!((s.queued, s.dropped(DropReason::Consent)), (0, 2));
        assert!(store.messages().is_empty(), "purged from the store too");
    }

    #[test]
    fn sync_state_keeps_the_later_activity_of_a_shared_session() {
        let store = MemoryStore::new();
        let mut b = core(&store, "{}", 4);
        b.track(Event::track("x"), T0 + 60_000);
        let mut theirs = store.state().unwrap();
        let session = theirs.session.as_mut().unwrap();
        session.last_activity = T0; // A's copy is older
        let id = session.id.clone();
        b.sync_state(theirs.clone(), T0 + 61_000);
        assert_eq!(b.session_id(T0 + 60_000 + 30 * 60_000), Some(id.as_str()));
        theirs.session = None; // A logged out (reset)
        b.sync_state(theirs, T0 + 62_000);
        assert_eq!(b.session_id(T0 + 62_000), None);
    }
}
