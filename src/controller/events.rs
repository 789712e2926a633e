//! The one event writer. Reconciles queue their Events ([`EventQueue::queue`]) and go on; one
//! task publishes them through the [`Recorder`] of [`super::event_series`] ([`EventWriter::run`]). An Event is a
//! note for people (`kubectl describe`), never what the operator decides from, so it does not
//! hold a reconcile worker: a reconcile's status write is what the next step waits for (issue
//! 14: with 1,000 invites adopted at a start, awaiting each Event doubled the API writes on
//! every reconcile's path).
//!
//! The queue is bounded ([`QUEUE_CAPACITY`]): when it is full a reconcile waits for room, so
//! Events are never dropped and memory stays bounded. At shutdown, once the controllers have
//! stopped, the writer publishes what is still queued (for a few seconds at most) and ends.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::Event;
use tokio::sync::mpsc;

use super::event_series::Recorder;

/// Events queued and not yet published, at most.
pub const QUEUE_CAPACITY: usize = 1024;

/// Events published at once: few, so that status writes keep most of the API server.
pub const PUBLISHERS: usize = 2;

/// One queued Event and the object it is about.
struct Queued {
    event: Event,
    regarding: ObjectReference,
}

/// The reconciles' end of the queue. Cheap to clone.
#[derive(Clone)]
pub(super) struct EventQueue(mpsc::Sender<Queued>);

/// The publishing end: run it as one of the operator's parts.
pub(super) struct EventWriter {
    queued: mpsc::Receiver<Queued>,
    recorder: Arc<Recorder>,
}

/// A queue and its writer, publishing with `recorder`.
pub(super) fn channel(recorder: Recorder) -> (EventQueue, EventWriter) {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    (
        EventQueue(tx),
        EventWriter {
            queued: rx,
            recorder: Arc::new(recorder),
        },
    )
}

impl EventQueue {
    /// Queues `event` about `regarding`, waiting for room when the queue is full. An Event
    /// queued after the writer ended is logged and dropped (the operator is stopping).
    pub(super) async fn queue(&self, event: Event, regarding: ObjectReference) {
        let reason = event.reason.clone();
        if self.0.send(Queued { event, regarding }).await.is_err() {
            tracing::debug!(%reason, "event writer stopped; event not published");
        }
    }
}

impl EventWriter {
    /// Publishes queued Events, [`PUBLISHERS`] at a time, until every [`EventQueue`] is dropped
    /// and what they queued is published. A failed publish is logged, never fatal.
    pub(super) async fn run(self) {
        let recorder = self.recorder;
        tokio_stream::wrappers::ReceiverStream::new(self.queued)
            .for_each_concurrent(PUBLISHERS, |q| {
                let recorder = recorder.clone();
                async move {
                    if let Err(e) = recorder.publish(&q.event, &q.regarding).await {
                        tracing::warn!(error = %e, reason = %q.event.reason, "could not publish event");
                    }
                }
            })
            .await;
    }
}
