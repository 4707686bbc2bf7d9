//! The convergence check's judgement of federated Services (spec §11.3): the members the
//! oracle expects each link and each local service mirror to list, and nothing else.

use crate::check::oracle::{self, LABEL_CLUSTER, LABEL_MIRRORED, LinkOracle};
use crate::k8s::{Kind, Object, ObjectKey};
use crate::world::view::WorldView;
use std::collections::BTreeSet;

const ANN_FEDERATED_MEMBERS: &str = "multicluster.linkerd.io/remote-discovery";
const ANN_LOCAL_MEMBER: &str = "multicluster.linkerd.io/local-discovery";

/// Federated membership of `link`'s remote services: each federated member, in a namespace the
/// source has, is listed as `<svc>@<link>` on the source's `<svc>-federated`; no other
/// `@<link>` member is listed.
pub(crate) fn link_members(link: &LinkOracle<'_>, out: &mut Vec<String>) {
    let view = link.view();
    let local = view.store(link.src);
    let target = view.store(link.dst);
    let cluster = view.cluster_name(link.src);
    let members = |svc: &Object| -> BTreeSet<String> {
        svc.meta()
            .annotations
            .get(ANN_FEDERATED_MEMBERS)
            .map(|l| {
                l.split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let link_name = &link.spec.name;
    for remote in target.list(Kind::Service, None) {
        let ns = remote.namespace();
        if !link.federated_member(remote) || link.namespace_skipped(ns) {
            continue;
        }
        let name = format!("{}-federated", remote.name());
        let member = format!("{}@{link_name}", remote.name());
        match local.get(&ObjectKey::new(Kind::Service, ns, &name)) {
            None => out.push(format!(
                "{cluster}: {ns}/{name} missing (federated member {member})"
            )),
            Some(f) if !members(f).contains(&member) => out.push(format!(
                "{cluster}: {ns}/{name} does not list federated member {member}"
            )),
            Some(_) => {}
        }
    }
    let suffix = format!("@{link_name}");
    for svc in local.list(Kind::Service, None) {
        for member in members(svc) {
            let Some(remote) = member.strip_suffix(&suffix) else {
                continue;
            };
            let current = target
                .get(&ObjectKey::new(Kind::Service, svc.namespace(), remote))
                .is_some_and(|r| link.federated_member(r));
            if !current {
                out.push(format!(
                    "{cluster}: {}/{} lists {member}, which is not a federated member",
                    svc.namespace(),
                    svc.name()
                ));
            }
        }
    }
}

/// Federated membership of cluster `ci`'s own services, kept by its local service mirror: each
/// non-headless Service matching the chart's federated selector has a `<svc>-federated`
/// annotated `multicluster.linkerd.io/local-discovery: <svc>`; that annotation names only such
/// a member; and a `-federated` Service with neither a local nor a remote member has been
/// deleted.
pub(crate) fn local_members(view: WorldView<'_>, ci: usize, out: &mut Vec<String>) {
    let store = view.store(ci);
    let cluster = view.cluster_name(ci);
    let is_member = oracle::local_federated_member;
    let non_empty = |svc: &Object, ann: &str| {
        svc.meta()
            .annotations
            .get(ann)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    for svc in store.list(Kind::Service, None) {
        let ns = svc.namespace();
        if is_member(svc) {
            let name = format!("{}-federated", svc.name());
            let listed = store
                .get(&ObjectKey::new(Kind::Service, ns, &name))
                .and_then(|f| non_empty(f, ANN_LOCAL_MEMBER));
            if listed.as_deref() != Some(svc.name()) {
                out.push(format!(
                    "{cluster}: {ns}/{name} does not name its local federated member {} (local-discovery {listed:?})",
                    svc.name()
                ));
            }
        }
        if svc.meta().labels.get(LABEL_MIRRORED).map(String::as_str) != Some("true") {
            continue;
        }
        let local = non_empty(svc, ANN_LOCAL_MEMBER);
        if let Some(member) = &local {
            let current = store
                .get(&ObjectKey::new(Kind::Service, ns, member))
                .is_some_and(|m| is_member(m));
            if !current {
                out.push(format!(
                    "{cluster}: {ns}/{} names local member {member}, which is not a federated member",
                    svc.name()
                ));
            }
        }
        if svc.name().ends_with("-federated")
            && local.is_none()
            && non_empty(svc, ANN_FEDERATED_MEMBERS).is_none()
            && !svc.meta().labels.contains_key(LABEL_CLUSTER)
        {
            out.push(format!(
                "{cluster}: {ns}/{} has no federated member left and should have been deleted",
                svc.name()
            ));
        }
    }
}
