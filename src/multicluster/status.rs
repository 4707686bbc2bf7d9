//! Link status writes (spec §2.2): one entry per remote Service in `status.mirrorServices` or
//! `status.federatedServices`, each holding exactly one `Mirrored` condition that is replaced
//! on every write; entries are removed on unexport/leave.
//!
//! Owns: building conditions and the GET Link + merge patch of one `status` list through the
//! status subresource (sent as [`Request::PatchLinkStatus`], the patch's effect on the list, so
//! a write costs the same whatever the number of mirrored services). Inputs: the handler env. Outputs: two API calls per write; failures are
//! only logged ("Failed to update link status"). Must not touch: mirror objects. The local
//! mirror (empty target cluster name) never writes status.

use super::config::LinkConfig;
use super::env::HandlerEnv;
use super::names::STATUS_CONTROLLER_NAME;
use crate::k8s::api::LinkStatusSection;
use crate::k8s::objects::{Kind, LinkCondition, ObjectKey, TypedRef, rfc3339};
use crate::k8s::{Request, Response};
use crate::sim::SimTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Section {
    Mirror,
    Federated,
}

impl Section {
    fn list(self) -> LinkStatusSection {
        match self {
            Section::Mirror => LinkStatusSection::MirrorServices,
            Section::Federated => LinkStatusSection::FederatedServices,
        }
    }
}

pub(super) const REASON_MIRRORED: &str = "Mirrored";
pub(super) const REASON_INVALID_SERVICE: &str = "InvalidService";
pub(super) const REASON_ERROR: &str = "Error";
pub(super) const REASON_MISSING_NAMESPACE: &str = "MissingNamespace";

fn service_ref(namespace: &str, name: &str) -> TypedRef {
    TypedRef {
        group: String::new(),
        kind: "Service".to_string(),
        name: name.to_string(),
        namespace: namespace.to_string(),
    }
}

/// `mirrorStatusCondition`: type `Mirrored`, status `True`/`False`, `lastTransitionTime=now`,
/// `localRef` when given (on success).
pub(super) fn condition(
    now: SimTime,
    success: bool,
    reason: &str,
    message: &str,
    local_ref: Option<(&str, &str)>,
) -> LinkCondition {
    LinkCondition {
        type_: "Mirrored".to_string(),
        status: if success { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: Some(rfc3339(now)),
        local_ref: local_ref.map(|(ns, name)| service_ref(ns, name)),
    }
}

/// Replaces (or adds) the entry for `namespace/remote_name` with one holding `cond`.
pub(super) fn update(
    cfg: &LinkConfig,
    env: &mut HandlerEnv,
    section: Section,
    remote_name: &str,
    namespace: &str,
    cond: LinkCondition,
) {
    write(cfg, env, section, remote_name, namespace, Some(cond));
}

/// Records success: a `Mirrored=True` condition pointing at the local object.
pub(super) fn mirrored(
    cfg: &LinkConfig,
    env: &mut HandlerEnv,
    section: Section,
    remote_name: &str,
    namespace: &str,
    local: (&str, &str),
) {
    let cond = condition(env.now, true, REASON_MIRRORED, "", Some(local));
    update(cfg, env, section, remote_name, namespace, cond);
}

/// Records a failure: a `Mirrored=False` condition with `reason` and `message`.
pub(super) fn failed(
    cfg: &LinkConfig,
    env: &mut HandlerEnv,
    section: Section,
    remote_name: &str,
    namespace: &str,
    reason: &str,
    message: &str,
) {
    let cond = condition(env.now, false, reason, message, None);
    update(cfg, env, section, remote_name, namespace, cond);
}

/// Removes the entry for `namespace/remote_name`.
pub(super) fn delete(
    cfg: &LinkConfig,
    env: &mut HandlerEnv,
    section: Section,
    remote_name: &str,
    namespace: &str,
) {
    write(cfg, env, section, remote_name, namespace, None);
}

fn write(
    cfg: &LinkConfig,
    env: &mut HandlerEnv,
    section: Section,
    remote_name: &str,
    namespace: &str,
    cond: Option<LinkCondition>,
) {
    if cfg.is_local_mirror() {
        return;
    }
    let key = ObjectKey::new(
        Kind::Link,
        &cfg.link.metadata.namespace,
        &cfg.link.metadata.name,
    );
    let response = env.api.call(Request::Get { key: key.clone() });
    match &response {
        Ok(Response::Object(o)) if o.as_link().is_some() => {}
        Ok(Response::Object(_)) => {
            env.log.push(format!(
                "error: Failed to update link status: {key} is not a Link"
            ));
            return;
        }
        Ok(other) => {
            env.log.push(format!(
                "error: Failed to update link status: unexpected response {other:?}"
            ));
            return;
        }
        Err(st) => {
            env.log.push(format!(
                "error: Failed to update link status: {}",
                st.message
            ));
            return;
        }
    }
    // The merge patch of the whole list (this Service's entries replaced or removed, or one
    // appended), sent as its effect on the list: the GET above is at the revision it applies to.
    if let Err(st) = env.api.call(Request::PatchLinkStatus {
        key,
        section: section.list(),
        namespace: namespace.to_string(),
        name: remote_name.to_string(),
        controller_name: STATUS_CONTROLLER_NAME.to_string(),
        condition: cond,
    }) {
        env.log.push(format!(
            "error: Failed to update link status: {}",
            st.message
        ));
    }
}
