//! The broker: which connection listens to which channel of one API, and fan-out.
//!
//! Fan-out is built so that one publisher and many subscribers stay cheap:
//! - each event is encoded once, as the JSON string literal that goes into `data.event`, into a
//!   shared `Arc<str>`; a delivery is a reference count plus the subscription id, and the
//!   connection's own task assembles its `data` frame (one copy, no serialisation) when it
//!   writes it ([`Delivery::frame`]), so that work spreads over the connections' tasks;
//! - every connection has a bounded [`Outbox`]; the broker only ever `try_send`s into it, so a
//!   publisher never waits for a subscriber. When an outbox is full, that connection is marked
//!   overflowed and its task closes it (WebSocket close 1008, "subscriber too slow"): the
//!   client learns that it lost events and can reconnect, and nobody else is delayed;
//! - an idle connection holds only its outbox and its entries here.
//!
//! [`FanoutMode::PerSubscriber`] is the naive alternative kept for `evctl bench fanout`: it
//! serialises the whole `data` message with serde for every subscriber in the publisher's task.
//! The broker knows nothing of auth, namespaces or sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, mpsc};

use super::channel::{Channel, Pattern};
use crate::wire::ServerMessage;

/// Identifies a connection within the data plane.
pub type ConnectionId = u64;

/// How deliveries are encoded; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanoutMode {
    /// Encode each event once; frames are assembled per connection from shared bytes.
    #[default]
    Shared,
    /// Serialise a full `data` message per subscriber (the benchmark's baseline).
    PerSubscriber,
}

/// One published event, encoded once as a JSON string literal (quotes and escapes included),
/// ready to be spliced into any number of `data` frames.
#[derive(Debug, Clone)]
pub struct SharedEvent {
    literal: Arc<str>,
    /// The event's JSON text, for the per-subscriber baseline.
    text: Arc<str>,
}

impl SharedEvent {
    pub fn new(event_json: &str) -> SharedEvent {
        let literal = serde_json::to_string(event_json).unwrap_or_else(|_| "\"\"".into());
        SharedEvent {
            literal: Arc::from(literal),
            text: Arc::from(event_json),
        }
    }
}

/// A message waiting in a connection's outbox.
#[derive(Debug)]
pub enum Outgoing {
    Data(Delivery),
    /// A fully serialised text frame.
    Frame(String),
}

/// One event for one subscription.
#[derive(Debug)]
pub struct Delivery {
    pub subscription_id: Arc<str>,
    pub event: SharedEvent,
}

impl Delivery {
    const PREFIX: &'static str = r#"{"type":"data","id":""#;
    const MIDDLE: &'static str = r#"","event":"#;

    /// The `data` frame: `{"type":"data","id":"<id>","event":"<event json, escaped>"}`: one
    /// allocation and copy, no serialisation. Subscription ids are restricted to
    /// `[A-Za-z0-9_+-]`, so they are written verbatim.
    pub fn frame(&self) -> String {
        let id = &*self.subscription_id;
        let event = &*self.event.literal;
        let mut frame = String::with_capacity(
            Self::PREFIX.len() + id.len() + Self::MIDDLE.len() + event.len() + 1,
        );
        frame.push_str(Self::PREFIX);
        frame.push_str(id);
        frame.push_str(Self::MIDDLE);
        frame.push_str(event);
        frame.push('}');
        frame
    }
}

impl Outgoing {
    /// The text frame to write.
    pub fn into_frame(self) -> String {
        match self {
            Outgoing::Data(d) => d.frame(),
            Outgoing::Frame(b) => b,
        }
    }
}

/// The sending side of a connection's bounded queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    state: Arc<OutboxState>,
}

#[derive(Debug, Default)]
struct OutboxState {
    overflowed: AtomicBool,
    notify: Notify,
}

/// The receiving side, owned by the connection's task.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Outgoing>,
    state: Arc<OutboxState>,
}

/// Creates a connection's queue holding at most `capacity` messages.
pub fn outbox(capacity: usize) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let state = Arc::new(OutboxState::default());
    (
        Outbox {
            tx,
            state: state.clone(),
        },
        Inbox { rx, state },
    )
}

impl Outbox {
    /// Queues a message without waiting. Returns false if the queue was full, in which case the
    /// connection is marked overflowed (and will be closed by its task).
    pub fn push(&self, message: Outgoing) -> bool {
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.state.overflowed.swap(true, Ordering::AcqRel) {
                    self.state.notify.notify_waiters();
                }
                false
            }
            // The connection is gone; its subscriptions are being removed.
            Err(mpsc::error::TrySendError::Closed(_)) => true,
        }
    }
}

impl Inbox {
    /// The next queued message; `None` if every sender is gone.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        self.rx.recv().await
    }

    /// A queued message if there is one, without waiting (to batch writes).
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        self.rx.try_recv().ok()
    }

    /// A handle that resolves when this queue overflows, usable while the inbox is borrowed.
    pub fn signal(&self) -> OverflowSignal {
        OverflowSignal(self.state.clone())
    }

    pub fn has_overflowed(&self) -> bool {
        self.state.overflowed.load(Ordering::Acquire)
    }
}

/// Resolves once a connection's queue has overflowed.
#[derive(Debug, Clone)]
pub struct OverflowSignal(Arc<OutboxState>);

impl OverflowSignal {
    pub async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.0.overflowed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    connection: ConnectionId,
    subscription_id: Arc<str>,
    outbox: Outbox,
}

#[derive(Debug, Default)]
struct Index {
    /// By channel key.
    exact: HashMap<String, Vec<Entry>>,
    /// By the prefix key of `prefix/*`.
    below: HashMap<String, Vec<Entry>>,
}

/// Subscriptions of one API and the fan-out to them.
#[derive(Debug, Default)]
pub struct Broker {
    index: RwLock<Index>,
    mode: FanoutMode,
}

impl Broker {
    pub fn new(mode: FanoutMode) -> Broker {
        Broker {
            index: RwLock::default(),
            mode,
        }
    }

    pub fn subscribe(
        &self,
        pattern: &Pattern,
        connection: ConnectionId,
        subscription_id: Arc<str>,
        outbox: Outbox,
    ) {
        let entry = Entry {
            connection,
            subscription_id,
            outbox,
        };
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let (map, key) = index.slot(pattern);
        map.entry(key.to_string()).or_default().push(entry);
    }

    pub fn unsubscribe(&self, pattern: &Pattern, connection: ConnectionId, subscription_id: &str) {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        let (map, key) = index.slot(pattern);
        if let Some(entries) = map.get_mut(key) {
            entries.retain(|e| {
                !(e.connection == connection && &*e.subscription_id == subscription_id)
            });
            if entries.is_empty() {
                map.remove(key);
            }
        }
    }

    /// Delivers every event to every subscription matching `channel`, one message per event per
    /// subscription, in order. Returns the number of messages queued (overflows excluded).
    pub fn publish(&self, channel: &Channel, events: &[SharedEvent]) -> usize {
        if events.is_empty() {
            return 0;
        }
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let exact = index.exact.get(channel.key()).into_iter();
        let below = channel
            .wildcard_prefixes()
            .filter_map(|prefix| index.below.get(prefix));
        let mut queued = 0;
        for entries in exact.chain(below) {
            for entry in entries {
                for event in events {
                    let message = match self.mode {
                        FanoutMode::Shared => Outgoing::Data(Delivery {
                            subscription_id: entry.subscription_id.clone(),
                            event: event.clone(),
                        }),
                        FanoutMode::PerSubscriber => Outgoing::Frame(per_subscriber_frame(
                            &entry.subscription_id,
                            &event.text,
                        )),
                    };
                    if entry.outbox.push(message) {
                        queued += 1;
                    } else {
                        // Overflowed: the connection is being closed; skip its other events.
                        break;
                    }
                }
            }
        }
        queued
    }

    /// Number of subscriptions (for tests and diagnostics).
    pub fn len(&self) -> usize {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index
            .exact
            .values()
            .chain(index.below.values())
            .map(Vec::len)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Index {
    fn slot<'a>(&mut self, pattern: &'a Pattern) -> (&mut HashMap<String, Vec<Entry>>, &'a str) {
        match pattern {
            Pattern::Exact(c) => (&mut self.exact, c.key()),
            Pattern::Below(c) => (&mut self.below, c.key()),
        }
    }
}

fn per_subscriber_frame(subscription_id: &str, event: &str) -> String {
    let message = ServerMessage::Data {
        id: subscription_id.to_string(),
        event: event.to_string(),
    };
    serde_json::to_string(&message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(s: &str) -> Channel {
        Channel::parse(s).expect("valid")
    }

    fn pattern(s: &str) -> Pattern {
        Pattern::parse(s).expect("valid")
    }

    fn drain(inbox: &mut Inbox) -> Vec<serde_json::Value> {
        std::iter::from_fn(|| inbox.try_recv())
            .map(|m| serde_json::from_str(&m.into_frame()).expect("frame is JSON"))
            .collect()
    }

    #[test]
    fn each_event_reaches_each_matching_subscription_once_in_order() {
        let broker = Broker::new(FanoutMode::Shared);
        let (a, mut a_in) = outbox(16);
        let (b, mut b_in) = outbox(16);
        broker.subscribe(&pattern("/default/foo"), 1, "exact".into(), a.clone());
        broker.subscribe(&pattern("/default/*"), 1, "wild".into(), a);
        broker.subscribe(&pattern("/other/*"), 2, "elsewhere".into(), b);
        let events = [SharedEvent::new("{\"n\":1}"), SharedEvent::new("\"two\"")];
        assert_eq!(broker.publish(&channel("default/foo"), &events), 4);
        let got = drain(&mut a_in);
        let ids: Vec<_> = got.iter().map(|m| m["id"].as_str().unwrap_or("")).collect();
        assert_eq!(ids, ["exact", "exact", "wild", "wild"]);
        assert_eq!(got[0]["event"], "{\"n\":1}");
        assert_eq!(got[1]["event"], "\"two\"");
        assert!(drain(&mut b_in).is_empty());
    }

    #[test]
    fn shared_and_per_subscriber_frames_are_byte_identical() {
        for event in [
            "{\"a\":[1,\"x\\\"y\"]}",
            "\"\\u0001 é ü 🎉 </script>\"",
            "42",
        ] {
            let shared = SharedEvent::new(event);
            let frame = Delivery {
                subscription_id: "sub-1_+".into(),
                event: shared,
            }
            .frame();
            assert_eq!(frame, per_subscriber_frame("sub-1_+", event), "{event}");
            let parsed: ServerMessage = serde_json::from_str(&frame).expect("parses");
            assert_eq!(
                parsed,
                ServerMessage::Data {
                    id: "sub-1_+".into(),
                    event: event.into()
                }
            );
        }
    }

    #[test]
    fn a_full_outbox_marks_only_that_connection_overflowed() {
        let broker = Broker::new(FanoutMode::Shared);
        let (slow, slow_in) = outbox(2);
        let (fast, mut fast_in) = outbox(100);
        broker.subscribe(&pattern("ns/c"), 1, "slow".into(), slow);
        broker.subscribe(&pattern("ns/c"), 2, "fast".into(), fast);
        for i in 0..10 {
            broker.publish(&channel("ns/c"), &[SharedEvent::new(&i.to_string())]);
        }
        assert!(slow_in.has_overflowed());
        assert!(!fast_in.has_overflowed());
        assert_eq!(drain(&mut fast_in).len(), 10);
    }

    #[tokio::test]
    async fn overflow_wakes_the_connection_task() {
        let (out, inbox) = outbox(1);
        let signal = inbox.signal();
        let waiter = tokio::spawn(async move { signal.wait().await });
        assert!(out.push(Outgoing::Frame("1".into())));
        assert!(!out.push(Outgoing::Frame("2".into())));
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("woken")
            .expect("task ok");
    }

    #[test]
    fn unsubscribing_removes_only_that_subscription() {
        let broker = Broker::new(FanoutMode::Shared);
        let (o, mut inbox) = outbox(16);
        broker.subscribe(&pattern("ns/*"), 1, "a".into(), o.clone());
        broker.subscribe(&pattern("ns/*"), 1, "b".into(), o.clone());
        broker.subscribe(&pattern("ns/*"), 2, "a".into(), o);
        broker.unsubscribe(&pattern("ns/*"), 1, "a");
        assert_eq!(broker.len(), 2);
        broker.publish(&channel("ns/x"), &[SharedEvent::new("1")]);
        assert_eq!(drain(&mut inbox).len(), 2);
        broker.unsubscribe(&pattern("ns/*"), 1, "b");
        broker.unsubscribe(&pattern("ns/*"), 2, "a");
        assert!(broker.is_empty());
    }
}
