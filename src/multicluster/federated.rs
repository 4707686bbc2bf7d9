//! Federated services (spec §11.3): `<svc>-federated` lists its members in the annotations
//! `multicluster.linkerd.io/remote-discovery` (`svc@link,...`) and
//! `multicluster.linkerd.io/local-discovery` (the local mirror's member).
//!
//! Owns: the `impl ClusterWatcher` blocks of `CreateFederatedService`,
//! `RemoteServiceJoinsFederatedService` and `RemoteServiceLeavesFederatedService`, and the
//! oldest-Link metadata rule. Inputs: events, local listers, Link objects fetched through the
//! local API (creation timestamps). Outputs: federated Service writes, Link status.
//! Must not touch: mirror Services; federated Services carry no `cluster-name` label, so
//! per-link GC and cleanup never see them.

use super::config::Fix;
use super::env::{HandlerEnv, HandlerError};
use super::event::MirrorEvent;
use super::names::*;
use super::status::{self, Section};
use super::watcher::{ClusterWatcher, api_create, api_delete, api_get, as_service};
use crate::k8s::objects::{Kind, Object, Service, StringMap, parse_rfc3339};
use crate::k8s::{Request, StatusReason};
use crate::sim::SimTime;
use std::sync::Arc;

fn discovery_contains(list: &str, member: &str) -> bool {
    list.split(',').any(|m| m == member)
}

impl ClusterWatcher {
    fn federated_annotations(&self, remote: &Service) -> StringMap {
        let mut out = self.common_annotations(remote);
        if self.cfg.is_local_mirror() {
            out.insert(
                ANN_LOCAL_DISCOVERY.to_string(),
                remote.metadata.name.clone(),
            );
        } else {
            out.insert(
                ANN_REMOTE_DISCOVERY.to_string(),
                federated_member(&remote.metadata.name, self.target()),
            );
        }
        out
    }

    fn headless_member(&self, remote: &Service, env: &mut HandlerEnv) -> HandlerError {
        status::failed(
            &self.cfg,
            env,
            Section::Federated,
            &remote.metadata.name,
            &remote.metadata.namespace,
            status::REASON_INVALID_SERVICE,
            "Headless service cannot join federated service",
        );
        HandlerError::Fatal(format!(
            "headless service {}/{} cannot join federated service",
            remote.metadata.namespace, remote.metadata.name
        ))
    }

    pub(super) fn handle_create_federated_service(
        &mut self,
        obj: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let remote = as_service(obj)?;
        if remote.is_headless() {
            return Err(self.headless_member(remote, env));
        }
        let (name, ns) = (&remote.metadata.name, &remote.metadata.namespace);
        if !self.ensure_namespace(obj, Section::Federated, env)? {
            return Ok(());
        }
        let local_name = federated_name(name);
        let mut svc = Service::new(ns, &local_name);
        svc.metadata.annotations = self.federated_annotations(remote);
        svc.metadata.labels = self.common_labels(remote);
        svc.spec.ports = Self::remap_ports(&remote.spec.ports);
        self.log(
            env,
            "info",
            format!("Creating a new federated service for {ns}/{name}"),
        );
        match api_create(env, svc) {
            Ok(_) => {}
            Err(st) if st.reason == StatusReason::AlreadyExists => {}
            Err(st) => {
                status::failed(
                    &self.cfg,
                    env,
                    Section::Federated,
                    name,
                    ns,
                    status::REASON_ERROR,
                    &format!("Failed to create federated service: {}", st.message),
                );
                return Err(HandlerError::retryable(st.message));
            }
        }
        status::mirrored(
            &self.cfg,
            env,
            Section::Federated,
            name,
            ns,
            (ns, &local_name),
        );
        Ok(())
    }

    /// Creation time of the Link named `name` in the controller namespace, through the API
    /// (`None` if it cannot be fetched: that member is skipped).
    fn link_created(&self, name: &str, env: &mut HandlerEnv) -> Option<SimTime> {
        let ns = self.cfg.link.metadata.namespace.clone();
        let link = api_get(env, Kind::Link, &ns, name).ok()??;
        parse_rfc3339(link.meta().creation_timestamp.as_deref()?)
    }

    /// The oldest-Link rule (#13783): this link's member is the source of truth for metadata
    /// iff no local member exists (the local cluster counts as oldest) and no other remote
    /// member's Link is strictly older. Ties: both write.
    fn is_oldest_member(&self, local: &Service, env: &mut HandlerEnv) -> bool {
        if self.cfg.is_local_mirror() {
            return true;
        }
        let ann = &local.metadata.annotations;
        if ann.get(ANN_LOCAL_DISCOVERY).is_some_and(|v| !v.is_empty()) {
            return false;
        }
        let own_name = self.cfg.link.metadata.name.clone();
        let own = self
            .cfg
            .link
            .metadata
            .creation_timestamp
            .as_deref()
            .and_then(parse_rfc3339)
            .or_else(|| self.link_created(&own_name, env));
        let Some(own) = own else { return true };
        let members: Vec<String> = ann
            .get(ANN_REMOTE_DISCOVERY)
            .map(|l| l.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        for m in members {
            let Some((_, cluster)) = m.rsplit_once('@') else {
                continue;
            };
            if cluster == self.target() || cluster.is_empty() {
                continue;
            }
            if let Some(other) = self.link_created(cluster, env)
                && other < own
            {
                return false;
            }
        }
        true
    }

    pub(super) fn handle_federated_service_join(
        &mut self,
        obj: &Arc<Object>,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let remote = as_service(obj)?;
        let (name, ns) = (
            remote.metadata.name.clone(),
            remote.metadata.namespace.clone(),
        );
        let local_name = federated_name(&name);
        let Some(original) = env
            .local
            .get_by(Kind::Service, &ns, &local_name)
            .and_then(|o| o.as_service())
            .cloned()
        else {
            env.enqueue
                .push(MirrorEvent::CreateFederatedService(obj.clone()));
            return Ok(());
        };
        if remote.is_headless() {
            return Err(self.headless_member(remote, env));
        }
        let local = self.joined(&original, remote, env);
        if local == original {
            return Ok(());
        }
        self.log(
            env,
            "info",
            format!("Updating federated service {ns}/{local_name}"),
        );
        let written = match env.api.call(Request::update(local)) {
            Err(st)
                if st.reason == StatusReason::Conflict
                    && self.cfg.fixes.has(Fix::UpdateRetriesOnConflict) =>
            {
                // The fix: the same join, applied to the Service as the API has it now.
                match api_get(env, Kind::Service, &ns, &local_name) {
                    Ok(Some(o)) => match o.as_service() {
                        Some(fresh) => {
                            let again = self.joined(fresh, remote, env);
                            if &again == fresh {
                                Ok(())
                            } else {
                                env.api.call(Request::update(again)).map(|_| ())
                            }
                        }
                        None => Err(st),
                    },
                    Ok(None) => Err(st),
                    Err(e) => Err(e),
                }
            }
            other => other.map(|_| ()),
        };
        if let Err(st) = written {
            status::failed(
                &self.cfg,
                env,
                Section::Federated,
                &name,
                &ns,
                status::REASON_ERROR,
                &format!("Failed to update federated service: {}", st.message),
            );
            return Err(HandlerError::retryable(st.message));
        }
        status::mirrored(
            &self.cfg,
            env,
            Section::Federated,
            &name,
            &ns,
            (&ns, &local_name),
        );
        Ok(())
    }

    /// The federated Service `original` with this link's member joined (and, for the oldest
    /// member, its metadata and ports).
    fn joined(&self, original: &Service, remote: &Service, env: &mut HandlerEnv) -> Service {
        let name = remote.metadata.name.clone();
        let mut local = original.clone();
        if self.is_oldest_member(original, env) {
            let mut annotations = self.common_annotations(remote);
            for key in [ANN_REMOTE_DISCOVERY, ANN_LOCAL_DISCOVERY] {
                if let Some(v) = original.metadata.annotations.get(key) {
                    annotations.insert(key.to_string(), v.clone());
                }
            }
            local.metadata.annotations = annotations;
            local.metadata.labels = self.common_labels(remote);
            local.spec.ports = Self::remap_ports(&remote.spec.ports);
        }
        if self.cfg.is_local_mirror() {
            local
                .metadata
                .annotations
                .insert(ANN_LOCAL_DISCOVERY.to_string(), name.clone());
        } else {
            let member = federated_member(&name, self.target());
            let list = local
                .metadata
                .annotations
                .get(ANN_REMOTE_DISCOVERY)
                .cloned()
                .unwrap_or_default();
            if !discovery_contains(&list, &member) {
                let joined = if list.is_empty() {
                    member
                } else {
                    format!("{list},{member}")
                };
                local
                    .metadata
                    .annotations
                    .insert(ANN_REMOTE_DISCOVERY.to_string(), joined);
            }
        }
        local
    }

    pub(super) fn handle_federated_service_leave(
        &mut self,
        name: &str,
        ns: &str,
        env: &mut HandlerEnv,
    ) -> Result<(), HandlerError> {
        let local_name = federated_name(name);
        let Some(local) = env
            .local
            .get_by(Kind::Service, ns, &local_name)
            .and_then(|o| o.as_service())
            .cloned()
        else {
            return Ok(());
        };
        let Some(left) = self.left(&local, name) else {
            return Ok(());
        };
        match self.write_left(left, env)? {
            Ok(()) => {}
            Err(st)
                if st.reason == StatusReason::Conflict
                    && self.cfg.fixes.has(Fix::UpdateRetriesOnConflict) =>
            {
                // The fix: the same leave, applied to the Service as the API has it now.
                let fresh = api_get(env, Kind::Service, ns, &local_name)
                    .map_err(|e| HandlerError::retryable(e.message))?;
                let again = fresh
                    .as_deref()
                    .and_then(Object::as_service)
                    .and_then(|f| self.left(f, name));
                if let Some(again) = again
                    && let Err(st) = self.write_left(again, env)?
                {
                    return Err(HandlerError::retryable(st.message));
                }
            }
            Err(st) => return Err(HandlerError::retryable(st.message)),
        }
        status::delete(&self.cfg, env, Section::Federated, name, ns);
        Ok(())
    }

    /// The federated Service `local` without this link's member (`None`: not a member).
    fn left(&self, local: &Service, name: &str) -> Option<Service> {
        let mut local = local.clone();
        if self.cfg.is_local_mirror() {
            local.metadata.annotations.remove(ANN_LOCAL_DISCOVERY);
        } else {
            let member = federated_member(name, self.target());
            let list = local
                .metadata
                .annotations
                .get(ANN_REMOTE_DISCOVERY)
                .cloned()
                .unwrap_or_default();
            if !discovery_contains(&list, &member) {
                return None;
            }
            let rest: Vec<&str> = list.split(',').filter(|m| *m != member).collect();
            local
                .metadata
                .annotations
                .insert(ANN_REMOTE_DISCOVERY.to_string(), rest.join(","));
        }
        Some(local)
    }

    /// Writes a federated Service a member left: deleted when no member is left, else
    /// updated. The outer error is the handler's (a failed delete); the inner one is the
    /// update's, for the caller to judge.
    fn write_left(
        &self,
        local: Service,
        env: &mut HandlerEnv,
    ) -> Result<Result<(), crate::k8s::Status>, HandlerError> {
        let (ns, local_name) = (
            local.metadata.namespace.clone(),
            local.metadata.name.clone(),
        );
        let ann = &local.metadata.annotations;
        let no_remote = ann.get(ANN_REMOTE_DISCOVERY).is_none_or(String::is_empty);
        let no_local = ann.get(ANN_LOCAL_DISCOVERY).is_none_or(String::is_empty);
        if no_remote && no_local {
            self.log(
                env,
                "info",
                format!("Deleting federated service {ns}/{local_name}"),
            );
            if let Err(st) = api_delete(env, Kind::Service, &ns, &local_name)
                && !st.is_not_found()
            {
                return Err(HandlerError::retryable(format!(
                    "could not delete service: {ns}/{local_name}: {}",
                    st.message
                )));
            }
            return Ok(Ok(()));
        }
        Ok(env.api.call(Request::update(local)).map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_exact_per_item() {
        assert!(discovery_contains("a@east,b@west", "b@west"));
        assert!(!discovery_contains("a@east,b@west", "b@wes"));
        assert!(!discovery_contains("", "a@east"));
    }
}
