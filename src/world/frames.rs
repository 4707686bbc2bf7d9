//! Wire frames carried on connections: Kubernetes API traffic (requests, watches) and the mesh's
//! HTTP requests. Each frame has a stable digest for the trace; objects are digested by identity
//! and resourceVersion (not by their whole content), which is what distinguishes two states.

use crate::k8s::{Object, Request, Response, Status, WatchEvent, WatchRequest};
use crate::sim::hash::StableHasher;
use std::sync::Arc;

/// One Kubernetes API frame. `id` is chosen by the client and echoed by the server.
#[derive(Clone, Debug)]
pub enum ApiFrame {
    Request {
        id: u64,
        request: Box<Request>,
    },
    Response {
        id: u64,
        result: Box<Result<Response, Status>>,
    },
    /// Opens a watch stream identified by `id` on this connection.
    Watch {
        id: u64,
        request: Box<WatchRequest>,
    },
    /// The watch is open; carries the synthetic initial events (if any), or why it failed.
    WatchOpened {
        id: u64,
        result: Box<Result<Vec<WatchEvent>, Status>>,
    },
    Event {
        id: u64,
        event: WatchEvent,
    },
    /// The server ended the stream (timeout, compaction, shutdown).
    WatchEnd {
        id: u64,
    },
    /// The client abandons the stream.
    Cancel {
        id: u64,
    },
}

/// An object in a digest: its kind, namespace, name and resourceVersion (what tells two of its
/// states apart), not its whole content.
pub fn digest_object(h: &mut StableHasher, o: &Arc<Object>) {
    h.add(&o.kind());
    h.add(o.namespace());
    h.add(o.name());
    h.add(&o.meta().resource_version);
}

fn digest_status(h: &mut StableHasher, s: &Status) {
    h.add(&s.code);
    h.add(&s.message);
}

/// Tags: Added 1, Modified 2, Deleted 3, Bookmark 4, Error 5.
fn digest_event(h: &mut StableHasher, e: &WatchEvent) {
    match e {
        WatchEvent::Added(o) => {
            h.word(1);
            digest_object(h, o);
        }
        WatchEvent::Modified(o) => {
            h.word(2);
            digest_object(h, o);
        }
        WatchEvent::Deleted(o) => {
            h.word(3);
            digest_object(h, o);
        }
        WatchEvent::Bookmark(rv) => {
            h.word(4);
            h.word(*rv);
        }
        WatchEvent::Error(s) => {
            h.word(5);
            digest_status(h, s);
        }
    }
}

impl ApiFrame {
    pub fn kind(&self) -> &'static str {
        match self {
            ApiFrame::Request { .. } => "api-request",
            ApiFrame::Response { .. } => "api-response",
            ApiFrame::Watch { .. } => "api-watch",
            ApiFrame::WatchOpened { .. } => "api-watch-opened",
            ApiFrame::Event { .. } => "api-watch-event",
            ApiFrame::WatchEnd { .. } => "api-watch-end",
            ApiFrame::Cancel { .. } => "api-watch-cancel",
        }
    }

    /// The frame's id, then: a request's description; a response's object (or 0 for none,
    /// or its error status); a watch's kind, namespace and resourceVersion; the initial events
    /// of an opened watch (count, then each) or its error; an event.
    pub fn digest_into(&self, h: &mut StableHasher) {
        match self {
            ApiFrame::Request { id, request } => {
                h.word(*id);
                h.add(&request.describe());
            }
            ApiFrame::Response { id, result } => {
                h.word(*id);
                match result.as_ref() {
                    Ok(r) => match r.object() {
                        Some(o) => digest_object(h, o),
                        None => h.word(0),
                    },
                    Err(s) => digest_status(h, s),
                }
            }
            ApiFrame::Watch { id, request } => {
                h.word(*id);
                h.add(&request.kind);
                h.add(&request.namespace);
                h.add(&request.resource_version);
            }
            ApiFrame::WatchOpened { id, result } => {
                h.word(*id);
                match result.as_ref() {
                    Ok(events) => {
                        h.word(events.len() as u64);
                        for e in events {
                            digest_event(h, e);
                        }
                    }
                    Err(s) => digest_status(h, s),
                }
            }
            ApiFrame::Event { id, event } => {
                h.word(*id);
                digest_event(h, event);
            }
            ApiFrame::WatchEnd { id } | ApiFrame::Cancel { id } => h.word(*id),
        }
    }

    pub fn details(&self) -> serde_json::Value {
        match self {
            ApiFrame::Request { id, request } => {
                serde_json::json!({ "id": id, "request": request.describe() })
            }
            ApiFrame::Response { id, result } => match result.as_ref() {
                Ok(r) => {
                    serde_json::json!({ "id": id, "ok": r.object().map(|o| o.key().to_string()) })
                }
                Err(s) => serde_json::json!({ "id": id, "error": s.code, "message": s.message }),
            },
            ApiFrame::Watch { id, request } => serde_json::json!({
                "id": id, "kind": request.kind.to_string(), "namespace": request.namespace, "rv": request.resource_version,
            }),
            ApiFrame::WatchOpened { id, result } => match result.as_ref() {
                Ok(events) => serde_json::json!({ "id": id, "initial": events.len() }),
                Err(s) => serde_json::json!({ "id": id, "error": s.code, "message": s.message }),
            },
            ApiFrame::Event { id, event } => match event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                    serde_json::json!({
                        "id": id,
                        "type": match event { WatchEvent::Added(_) => "ADDED", WatchEvent::Modified(_) => "MODIFIED", _ => "DELETED" },
                        "object": o.key().to_string(),
                        "rv": o.meta().resource_version,
                    })
                }
                WatchEvent::Bookmark(rv) => {
                    serde_json::json!({ "id": id, "type": "BOOKMARK", "rv": rv })
                }
                WatchEvent::Error(s) => {
                    serde_json::json!({ "id": id, "type": "ERROR", "code": s.code })
                }
            },
            ApiFrame::WatchEnd { id } | ApiFrame::Cancel { id } => serde_json::json!({ "id": id }),
        }
    }
}
