//! The Recorder the one event writer ([`super::events`]) publishes with (issue 14, memory). It
//! writes the Events kube-runtime's `Recorder` writes (`events.k8s.io/v1`, the same name,
//! fields and series), but remembers less per series.
//!
//! Like kube-runtime's, an event repeated (same type, reason, action and objects) within
//! [`SERIES_TTL`] of its last occurrence is not a new Event: the first one's `series` is patched
//! (count and last observed time), so a reconcile repeated in a burst does not flood the
//! namespace. To patch it, kube-runtime's `Recorder` keeps a clone of the whole Event per series
//! (its note, references, metadata: about 4.5 KiB each with the table's share), dropped only
//! when a later event is published: a start that wrote one event per invite kept all of them
//! long after they expired (the largest heap consumer at 2,000 invites in the steady_state
//! bench, 9.7 of 22.9 MB). This one keeps per series only what the patch needs: the Event's
//! name, the occurrence count and the last time.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};

use super::parts::locked;

/// How long after its last occurrence an event still joins its series (kube-runtime's
/// `Recorder` uses the same six minutes).
pub const SERIES_TTL: SignedDuration = SignedDuration::from_mins(6);

/// What makes two events one series (kube-runtime's key): their type, reason and action, and
/// the objects they regard and relate to (apiVersion, kind, namespace, name and UID; the
/// reporter is the recorder's own). Kept as one string, the fields each behind a NUL (which no
/// Kubernetes name, kind or reason contains): one allocation per series instead of a dozen
/// (a start writes one series per invite, kept until a publish six minutes later or more).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey(String);

impl SeriesKey {
    fn new(event: &KubeEvent, regarding: &ObjectReference) -> Self {
        let mut key = String::with_capacity(160);
        key.push(match event.type_ {
            EventType::Normal => 'N',
            EventType::Warning => 'W',
        });
        for field in [&event.reason, &event.action] {
            key.push('\0');
            key.push_str(field);
        }
        for object in [Some(regarding), event.secondary.as_ref()] {
            let Some(object) = object else {
                key.push_str("\0-");
                continue;
            };
            for field in [
                &object.api_version,
                &object.kind,
                &object.namespace,
                &object.name,
                &object.uid,
            ] {
                key.push('\0');
                // A field that is absent is not one that is empty.
                match field {
                    Some(value) => {
                        key.push('+');
                        key.push_str(value);
                    }
                    None => key.push('-'),
                }
            }
        }
        key.shrink_to_fit();
        Self(key)
    }
}

/// What is remembered of one written Event: its name (its namespace is the key's), how often
/// it occurred, and when last.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Series {
    event: String,
    count: i32,
    last: Timestamp,
}

/// How an event is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Write {
    /// A new Event.
    Create,
    /// The `count`-th occurrence of the Event named `event`: patch its series.
    Repeat { event: String, count: i32 },
}

/// The series written in the last [`SERIES_TTL`], pure (the clock is passed in).
#[derive(Debug, Default)]
struct SeriesCache {
    series: HashMap<SeriesKey, Series>,
}

impl SeriesCache {
    /// Forgets the series whose last occurrence is [`SERIES_TTL`] or more before `now`, and
    /// gives the table's memory back once it is mostly empty (a start that wrote one event
    /// per invite grew it to thousands of entries).
    fn expire(&mut self, now: Timestamp) {
        self.series
            .retain(|_, s| s.last.checked_add(SERIES_TTL).is_ok_and(|end| end > now));
        if self.series.capacity() > 4 * self.series.len().max(16) {
            self.series.shrink_to_fit();
        }
    }

    /// How an occurrence of `key` is written.
    fn write_for(&self, key: &SeriesKey) -> Write {
        match self.series.get(key) {
            Some(s) => Write::Repeat {
                event: s.event.clone(),
                count: s.count.saturating_add(1),
            },
            None => Write::Create,
        }
    }

    /// Records that `event` was written as the `count`-th occurrence of `key` at `now`.
    fn written(&mut self, key: SeriesKey, event: String, count: i32, now: Timestamp) {
        self.series.insert(
            key,
            Series {
                event,
                count,
                last: now,
            },
        );
    }
}

/// Publishes Events as kube-runtime's `Recorder` does (see the module documentation).
pub struct Recorder {
    client: Client,
    /// `reportingController`.
    controller: String,
    /// `reportingInstance` (the pod name; the controller name when unknown).
    instance: String,
    cache: Mutex<SeriesCache>,
}

impl Recorder {
    /// A recorder reporting as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            instance: reporter.instance.unwrap_or_else(|| reporter.controller.clone()),
            controller: reporter.controller,
            cache: Mutex::default(),
        }
    }

    /// Publishes `event` about `regarding` (in its namespace; `default` when it has none): a
    /// new Event, or the next occurrence of its series.
    ///
    /// # Errors
    ///
    /// The API server's refusal of the create or patch (the series is then not advanced).
    pub async fn publish(&self, event: &KubeEvent, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = SeriesKey::new(event, regarding);
        let write = {
            let mut cache = locked(&self.cache);
            cache.expire(now);
            cache.write_for(&key)
        };
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let (name, count) = match write {
            Write::Create => {
                let new = self.event(event, regarding, now);
                let name = new.metadata.name.clone().unwrap_or_default();
                events.create(&PostParams::default(), &new).await?;
                (name, 1)
            }
            Write::Repeat { event, count } => {
                let series = EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                };
                let patch = serde_json::json!({ "series": series });
                events
                    .patch(&event, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                (event, count)
            }
        };
        locked(&self.cache).written(key, name, count, now);
        Ok(())
    }

    /// A new Event, as kube-runtime's `Recorder` makes it.
    fn event(&self, event: &KubeEvent, regarding: &ObjectReference, now: Timestamp) -> Event {
        let name = regarding.name.as_deref().unwrap_or(&self.controller);
        Event {
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: event.note.clone(),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(
                match event.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            related: event.secondary.clone(),
            ..Event::default()
        }
    }

    /// The number of series remembered (tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        locked(&self.cache).series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("timestamp")
    }

    fn regarding(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("awsinvite.io/v1alpha1".into()),
            kind: Some("AwsAccountInvite".into()),
            namespace: Some("billing".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectReference::default()
        }
    }

    fn note(warning: bool, reason: &str) -> KubeEvent {
        KubeEvent {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some("note".into()),
            action: reason.into(),
            secondary: None,
        }
    }

    fn key(name: &str, reason: &str) -> SeriesKey {
        SeriesKey::new(&note(false, reason), &regarding(name))
    }

    #[test]
    fn a_repeat_within_the_ttl_patches_the_series_of_the_first_event() {
        let mut cache = SeriesCache::default();
        assert_eq!(cache.write_for(&key("a", "InvitationSent")), Write::Create);
        cache.written(key("a", "InvitationSent"), "a.1".into(), 1, at(0));
        cache.expire(at(300));
        assert_eq!(
            cache.write_for(&key("a", "InvitationSent")),
            Write::Repeat {
                event: "a.1".into(),
                count: 2
            }
        );
        cache.written(key("a", "InvitationSent"), "a.1".into(), 2, at(300));
        // The TTL runs from the last occurrence.
        cache.expire(at(600));
        assert_eq!(
            cache.write_for(&key("a", "InvitationSent")),
            Write::Repeat {
                event: "a.1".into(),
                count: 3
            }
        );
        // Another reason, another object, another type: other series.
        assert_eq!(cache.write_for(&key("a", "InvitationAdopted")), Write::Create);
        assert_eq!(cache.write_for(&key("b", "InvitationSent")), Write::Create);
        let warning = SeriesKey::new(&note(true, "InvitationSent"), &regarding("a"));
        assert_eq!(cache.write_for(&warning), Write::Create);
        let mut related = note(false, "InvitationSent");
        related.secondary = Some(regarding("b"));
        assert_eq!(
            cache.write_for(&SeriesKey::new(&related, &regarding("a"))),
            Write::Create
        );
        // An absent field is not an empty one.
        let mut unnamed = regarding("");
        unnamed.uid = Some("uid-a".into());
        let mut nameless = unnamed.clone();
        nameless.name = None;
        assert_ne!(
            SeriesKey::new(&note(false, "R"), &unnamed),
            SeriesKey::new(&note(false, "R"), &nameless)
        );
        // A recreated object (new UID) starts its own series.
        let mut recreated = regarding("a");
        recreated.uid = Some("uid-a2".into());
        assert_eq!(
            cache.write_for(&SeriesKey::new(&note(false, "InvitationSent"), &recreated)),
            Write::Create
        );
    }

    #[test]
    fn expired_series_are_forgotten_and_their_memory_returned() {
        let mut cache = SeriesCache::default();
        for i in 0..5_000 {
            cache.written(key(&format!("i{i}"), "InvitationAdopted"), format!("i{i}.1"), 1, at(0));
        }
        cache.written(key("late", "InvitationSent"), "late.1".into(), 1, at(200));
        let grown = cache.series.capacity();
        cache.expire(at(360));
        assert_eq!(cache.series.len(), 1, "only the series younger than the TTL is kept");
        assert_eq!(cache.write_for(&key("i0", "InvitationAdopted")), Write::Create);
        assert!(
            cache.series.capacity() < grown / 100,
            "table shrunk: {} of {grown}",
            cache.series.capacity()
        );
    }

    #[tokio::test]
    async fn a_new_event_is_what_the_kube_recorder_writes() {
        crate::runtime::install_crypto_provider();
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("url"));
        let client = Client::try_from(config).expect("client");
        let reporter = Reporter {
            controller: "aws-invite-operator".into(),
            instance: None,
        };
        let recorder = Recorder::new(client, reporter);
        let mut failed = note(true, "InvitationFailed");
        failed.note = Some("no".into());
        let event = recorder.event(&failed, &regarding("a"), at(0));
        assert_eq!(event.metadata.namespace.as_deref(), Some("billing"));
        assert_eq!(event.metadata.name, Some(format!("a.{:x}", at(0).as_nanosecond())));
        assert_eq!(event.action.as_deref(), Some("InvitationFailed"));
        assert_eq!(event.reason.as_deref(), Some("InvitationFailed"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.note.as_deref(), Some("no"));
        assert_eq!(event.reporting_controller.as_deref(), Some("aws-invite-operator"));
        assert_eq!(event.reporting_instance.as_deref(), Some("aws-invite-operator"));
        assert_eq!(event.regarding, Some(regarding("a")));
        assert!(event.series.is_none() && event.related.is_none());
        assert_eq!(recorder.remembered(), 0);
    }
}
