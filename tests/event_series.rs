//! The Recorder the operator's event writer publishes with (src/controller/event_series.rs)
//! against a real API server: it writes the Events kube-runtime's `Recorder` wrote (an event
//! repeated within six minutes is the first Event's series, not a new Event), while
//! remembering only the Event's name per series.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use aws_invite_operator::controller::event_series::Recorder;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};
use kube_testenv::TestEnv;

fn invite(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("awsinvite.io/v1alpha1".into()),
        kind: Some("AwsAccountInvite".into()),
        namespace: Some("billing".into()),
        name: Some(name.into()),
        uid: Some(format!("uid-{name}")),
        ..ObjectReference::default()
    }
}

fn event(warning: bool, note: &str) -> KubeEvent {
    KubeEvent {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: "InvitationSent".into(),
        note: Some(note.into()),
        action: "InvitationSent".into(),
        secondary: None,
    }
}

#[tokio::test]
async fn a_repeated_event_is_one_event_with_a_series() {
    aws_invite_operator::runtime::install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane");
    env.create_namespace("billing", [("team", "billing")])
        .await
        .expect("namespace");
    let reporter = Reporter {
        controller: "aws-invite-operator".into(),
        instance: Some("pod-1".into()),
    };
    let recorder = Recorder::new(env.client(), reporter);

    for (warning, note, object) in [
        (false, "sent h-1", "a"),
        (false, "sent h-1 again", "a"),
        (false, "third", "a"),
        (true, "warned", "a"),
        (false, "other invite", "b"),
    ] {
        recorder
            .publish(&event(warning, note), &invite(object))
            .await
            .expect(note);
    }

    let events: Api<Event> = Api::namespaced(env.client(), "billing");
    let mut listed = events.list(&Default::default()).await.expect("events").items;
    listed.sort_by_key(|e| e.note.clone());
    let summary: Vec<_> = listed
        .iter()
        .map(|e| {
            (
                e.regarding.as_ref().and_then(|r| r.name.clone()).unwrap_or_default(),
                e.type_.clone().unwrap_or_default(),
                e.note.clone().unwrap_or_default(),
                e.series.as_ref().map(|s| s.count),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("b".into(), "Normal".into(), "other invite".into(), None),
            ("a".into(), "Normal".into(), "sent h-1".into(), Some(3)),
            ("a".into(), "Warning".into(), "warned".into(), None),
        ],
        "the repeats patched the first Event's series (its note stays the first one's)"
    );
    for e in &listed {
        assert_eq!(e.reason.as_deref(), Some("InvitationSent"));
        assert_eq!(e.action.as_deref(), Some("InvitationSent"));
        assert_eq!(e.reporting_controller.as_deref(), Some("aws-invite-operator"));
        assert_eq!(e.reporting_instance.as_deref(), Some("pod-1"));
        let name = e.metadata.name.as_deref().unwrap_or_default();
        let regarding = e.regarding.as_ref().and_then(|r| r.name.as_deref()).unwrap_or_default();
        assert!(name.starts_with(&format!("{regarding}.")), "{name}");
    }
}
