//! The wire vocabulary between API clients and the API server, as plain data: requests,
//! responses, `Status` errors, watch requests and watch events.
//!
//! Owns: [`Request`], [`Response`], [`Status`]/[`StatusReason`], [`DeleteOptions`],
//! [`WatchId`], [`WatchRequest`], [`WatchEvent`]. Inputs/outputs: none (types only). Must not
//! touch: server state; these values are what the kernel carries in messages between a client
//! component and an API server component.

use super::objects::{Kind, LinkCondition, Object, ObjectKey};
use super::selector::LabelSelector;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// Cascading deletion mode (`propagationPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Propagation {
    /// Remove the object now; the garbage collector deletes dependents afterwards.
    #[default]
    Background,
    /// Finalizer `foregroundDeletion`: dependents with `blockOwnerDeletion` go first.
    Foreground,
    /// Finalizer `orphan`: dependents lose their owner reference, then the owner goes.
    Orphan,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    pub propagation_policy: Propagation,
    /// Pods only: `Some(0)` deletes at once; `None` uses the pod's grace period (30 s default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// `preconditions.uid`: fail with 409 if the stored object has another uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precondition_uid: Option<String>,
}

/// Which part of an object a patch addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Subresource {
    #[default]
    Main,
    Status,
}

/// Which list of a Link's status a [`Request::PatchLinkStatus`] edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum LinkStatusSection {
    /// `status.mirrorServices`
    MirrorServices,
    /// `status.federatedServices`
    FederatedServices,
}

/// One API request. `Update` with an empty `metadata.resourceVersion` is unconditional.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verb", rename_all = "camelCase")]
pub enum Request {
    Get {
        key: ObjectKey,
    },
    List {
        kind: Kind,
        namespace: Option<String>,
        selector: Option<LabelSelector>,
    },
    Create {
        object: Object,
    },
    Update {
        object: Object,
    },
    UpdateStatus {
        object: Object,
    },
    /// JSON merge patch (RFC 7386) of the stored object.
    Patch {
        key: ObjectKey,
        subresource: Subresource,
        patch: serde_json::Value,
    },
    /// The service mirror's Link status write: a JSON merge patch of `status.mirrorServices` (or
    /// `status.federatedServices`) through the status subresource, carried as its effect on the
    /// list instead of the whole list. The entries whose `remoteRef` is `namespace/name` get
    /// `condition` as their only condition (an entry with `controller_name` is appended if there
    /// is none); with `condition: None` they are removed. The service mirror builds its patch
    /// from a GET of the Link issued just before, in the same instant and with nothing in
    /// between, so the stored object, revision, watch events and errors are those of the merge
    /// patch; the server applies the edit without a copy or JSON round trip of the list.
    PatchLinkStatus {
        key: ObjectKey,
        section: LinkStatusSection,
        namespace: String,
        name: String,
        controller_name: String,
        condition: Option<LinkCondition>,
    },
    /// The Namespace `/finalize` subresource: replaces `spec.finalizers`.
    Finalize {
        object: Object,
    },
    Delete {
        key: ObjectKey,
        options: DeleteOptions,
    },
    Version,
}

impl Request {
    pub fn create(object: impl Into<Object>) -> Request {
        Request::Create {
            object: object.into(),
        }
    }
    pub fn update(object: impl Into<Object>) -> Request {
        Request::Update {
            object: object.into(),
        }
    }
    pub fn update_status(object: impl Into<Object>) -> Request {
        Request::UpdateStatus {
            object: object.into(),
        }
    }
    pub fn delete(key: ObjectKey) -> Request {
        Request::Delete {
            key,
            options: DeleteOptions::default(),
        }
    }
    pub fn get(kind: Kind, namespace: &str, name: &str) -> Request {
        Request::Get {
            key: ObjectKey::new(kind, namespace, name),
        }
    }
    /// Short description for traces: `create Service default/web`.
    pub fn describe(&self) -> String {
        match self {
            Request::Get { key } => format!("get {key}"),
            Request::List {
                kind, namespace, ..
            } => match namespace {
                Some(ns) => format!("list {kind} in {ns}"),
                None => format!("list {kind}"),
            },
            Request::Create { object } => {
                let m = object.meta();
                let name = if m.name.is_empty() {
                    format!("{}*", m.generate_name)
                } else {
                    m.name.clone()
                };
                format!(
                    "create {}",
                    ObjectKey::new(object.kind(), &m.namespace, &name)
                )
            }
            Request::Update { object } => format!("update {}", object.key()),
            Request::UpdateStatus { object } => format!("update status {}", object.key()),
            Request::Patch { key, .. } | Request::PatchLinkStatus { key, .. } => {
                format!("patch {key}")
            }
            Request::Finalize { object } => format!("finalize {}", object.key()),
            Request::Delete { key, .. } => format!("delete {key}"),
            Request::Version => "version".to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Response {
    /// The object as stored after the request (for a delete that only marked the object, the
    /// object with its `deletionTimestamp`).
    Object(Arc<Object>),
    /// The object was removed; its last state.
    Deleted(Arc<Object>),
    /// Items in key order and the revision the list was served at.
    List {
        items: Vec<Arc<Object>>,
        resource_version: u64,
    },
    Version {
        git_version: String,
    },
}

impl Response {
    pub fn object(&self) -> Option<&Arc<Object>> {
        match self {
            Response::Object(o) | Response::Deleted(o) => Some(o),
            Response::List { .. } | Response::Version { .. } => None,
        }
    }
}

/// `metav1.StatusReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum StatusReason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    /// "too old resource version" (HTTP 410).
    Expired,
    Invalid,
    Timeout,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
}

/// An API error, as the server's `Status` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub code: u16,
    pub reason: StatusReason,
    pub message: String,
}

impl Status {
    pub fn new(code: u16, reason: StatusReason, message: impl Into<String>) -> Status {
        Status {
            code,
            reason,
            message: message.into(),
        }
    }
    pub fn not_found(kind: Kind, name: &str) -> Status {
        Status::new(
            404,
            StatusReason::NotFound,
            format!("{} \"{name}\" not found", kind.resource()),
        )
    }
    pub fn already_exists(kind: Kind, name: &str) -> Status {
        Status::new(
            409,
            StatusReason::AlreadyExists,
            format!("{} \"{name}\" already exists", kind.resource()),
        )
    }
    pub fn conflict(kind: Kind, name: &str) -> Status {
        Status::new(
            409,
            StatusReason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                kind.resource()
            ),
        )
    }
    /// 422 with one or more field causes.
    pub fn invalid(kind: Kind, name: &str, causes: &[String]) -> Status {
        let detail = if causes.len() == 1 {
            causes[0].clone()
        } else {
            format!("[{}]", causes.join(", "))
        };
        Status::new(
            422,
            StatusReason::Invalid,
            format!("{} \"{name}\" is invalid: {detail}", kind.as_str()),
        )
    }
    pub fn forbidden(kind: Kind, name: &str, why: &str) -> Status {
        Status::new(
            403,
            StatusReason::Forbidden,
            format!("{} \"{name}\" is forbidden: {why}", kind.resource()),
        )
    }
    /// 410 for a watch from a compacted revision.
    pub fn expired(requested: u64, oldest: u64) -> Status {
        Status::new(
            410,
            StatusReason::Expired,
            format!("too old resource version: {requested} ({oldest})"),
        )
    }
    pub fn internal(message: &str) -> Status {
        Status::new(
            500,
            StatusReason::InternalError,
            format!("Internal error occurred: {message}"),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Status {
        Status::new(400, StatusReason::BadRequest, message)
    }
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
    pub fn is_conflict(&self) -> bool {
        self.code == 409
    }
    /// 410 Gone / Expired: the client must relist.
    pub fn is_gone(&self) -> bool {
        self.code == 410
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}: {}", self.code, self.reason, self.message)
    }
}

/// Client-chosen identity of a watch stream on one API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct WatchId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchRequest {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub selector: Option<LabelSelector>,
    /// `None` or `Some(0)`: synthetic ADDED for the current state, then changes. `Some(rv)`:
    /// only changes after `rv`, replayed from history (410 if compacted).
    pub resource_version: Option<u64>,
}

impl WatchRequest {
    pub fn all(kind: Kind) -> WatchRequest {
        WatchRequest {
            kind,
            namespace: None,
            selector: None,
            resource_version: None,
        }
    }
    /// Whether `obj` is in this watch's selection.
    pub fn selects(&self, obj: &Object) -> bool {
        self.kind.covers(obj.kind())
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| obj.namespace() == ns)
            && self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(obj.labels()))
    }
}

/// One event on a watch stream. `Deleted` carries the last state (with the deletion's RV).
/// After an `Error` the server closes the stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", content = "object", rename_all = "UPPERCASE")]
pub enum WatchEvent {
    Added(Arc<Object>),
    Modified(Arc<Object>),
    Deleted(Arc<Object>),
    Bookmark(u64),
    Error(Status),
}

impl WatchEvent {
    /// The revision the event brings a client to, if it carries one.
    pub fn resource_version(&self) -> Option<u64> {
        match self {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                o.meta().resource_version.parse().ok()
            }
            WatchEvent::Bookmark(rv) => Some(*rv),
            WatchEvent::Error(_) => None,
        }
    }
}
