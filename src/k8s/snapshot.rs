//! Seeding an API server from a cluster snapshot: the `List` that `kubectl get namespaces,
//! services,endpoints,endpointslices,statefulsets,deployments,pods,secrets -A -o yaml` prints,
//! restored the way a backup tool restores it into a fresh cluster (create after create, then
//! the kubelet's status writes).
//!
//! Rules modelled, each as the API server and controllers would have it:
//! - Server-managed metadata (`uid`, `resourceVersion`, `creationTimestamp`, `generation`,
//!   `managedFields`) is the new server's: every object is created afresh. Owner references
//!   and endpoint `targetRef`s are rewritten to the new uids of their objects, so the
//!   Deployment, StatefulSet, EndpointSlice and garbage-collector controllers find what they own
//!   and create no duplicates. A pod owned by a ReplicaSet (not in the snapshot's kinds, and not
//!   modelled: mcsim's Deployment controller owns pods directly) is adopted by its Deployment,
//!   `<deployment>-<pod-template-hash>`, when the Deployment's selector matches the pod, as the
//!   ReplicaSet controller adopts an orphan. A reference to an owner the snapshot does not hold
//!   (a DaemonSet, a Node) keeps its old uid, so the garbage collector deletes the dependent, as
//!   a real one would in a cluster without the owner.
//! - A Service keeps its `clusterIP` (a create naming an IP): the API server refuses one outside
//!   its service range or already taken, and so does the restore (the error names the object's
//!   line and column; `[[cluster]] service_cidr` sets the range).
//! - A pod keeps its IP, phase and conditions (Ready) and is bound to the cluster's one modelled
//!   node. Its IP must lie in the cluster's pod network (`[[cluster]] pod_cidr`) and be unique,
//!   unless the pod uses the host's network (`spec.hostNetwork`).
//! - Workload and Service status is recomputed by the controllers (the server resets it on
//!   create).
//! - The multicluster extension's run-time state is not restored but rebuilt by mcsim from the
//!   scenario: mirror Services (`mirror.linkerd.io/mirrored-service`), probe Services
//!   (`mirror.linkerd.io/mirrored-gateway`) with their Endpoints and EndpointSlices, and Links
//!   (`mcsim import` turns those into `[[link]]`s).
//! - An object the API server already holds (its own namespaces) or the scenario declares
//!   (`skip`) is left out: the scenario's own version is created.
//!
//! Inputs: the snapshot's objects (from [`super::manifest::load_for_apply`]), the server.
//! Outputs: the server seeded, or the index of the object it refuses and why. Must not touch:
//! watch events (the caller drains them: the cluster starts with these objects).

use super::api::Request;
use super::apiserver::ApiServer;
use super::manifest::Located;
use super::objects::{Kind, Object, ObjectKey, OwnerReference};
use super::store::ObjectView;
use super::validation::Ipv4Cidr;
use crate::sim::{Prng, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Labels of the Services the service mirror writes (spec §4, §8.3).
pub const LABEL_MIRRORED_SERVICE: &str = "mirror.linkerd.io/mirrored-service";
pub const LABEL_MIRRORED_GATEWAY: &str = "mirror.linkerd.io/mirrored-gateway";
/// The EndpointSlice label naming its Service.
const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Where a snapshot goes: the cluster's one node and its pod network.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    pub node_name: &'a str,
    pub pod_cidr: Ipv4Cidr,
    /// Keys the scenario declares (its version wins).
    pub skip: &'a BTreeSet<ObjectKey>,
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub created: usize,
    /// Left out: already held, declared by the scenario, or the mesh's run-time state.
    pub left_out: usize,
}

/// Whether `obj` is run-time state of the multicluster extension that mcsim rebuilds itself.
pub fn is_mesh_state(obj: &Object) -> bool {
    let labels = &obj.meta().labels;
    let set = |k: &str| labels.get(k).is_some_and(|v| v == "true");
    obj.kind() == Kind::Link
        || (obj.kind() == Kind::Service
            && (set(LABEL_MIRRORED_SERVICE) || set(LABEL_MIRRORED_GATEWAY)))
}

/// Creation order: owners before what they own, Services before their endpoints.
fn rank(obj: &Object) -> u8 {
    match obj {
        Object::Namespace(_) => 0,
        Object::Deployment(_) | Object::StatefulSet(_) | Object::Opaque(_) => 1,
        Object::Service(_) | Object::Secret(_) | Object::Link(_) => 2,
        Object::Pod(_) => 3,
        Object::Endpoints(_) | Object::EndpointSlice(_) => 4,
        Object::Event(_) => 5,
    }
}

fn ip_in(cidr: Ipv4Cidr, ip: &str) -> Option<Ipv4Addr> {
    let ip: Ipv4Addr = ip.parse().ok()?;
    cidr.offset_of(ip)
        .filter(|o| cidr.usable().contains(o))
        .map(|_| ip)
}

/// Restores `objects` into `server` at `now`. `Err((i, message))` names `objects[i]`.
pub fn restore(
    server: &mut ApiServer,
    now: SimTime,
    rng: &mut Prng,
    objects: &[Located],
    target: &Target<'_>,
) -> Result<Restored, (usize, String)> {
    let mut done = Restored::default();
    // Services whose mirror-side objects are left out with them.
    let dropped: BTreeSet<(String, String)> = objects
        .iter()
        .map(|l| &l.object)
        .filter(|o| o.kind() == Kind::Service && is_mesh_state(o))
        .map(|o| (o.namespace().to_string(), o.name().to_string()))
        .collect();
    let of_dropped = |o: &Object| match o {
        Object::Endpoints(_) => dropped.contains(&(o.namespace().into(), o.name().into())),
        Object::EndpointSlice(s) => s
            .metadata
            .labels
            .get(LABEL_SERVICE_NAME)
            .is_some_and(|svc| dropped.contains(&(o.namespace().into(), svc.clone()))),
        _ => false,
    };
    let mut order: Vec<usize> = (0..objects.len()).collect();
    order.sort_by_key(|&i| rank(&objects[i].object));
    let mut uids: BTreeMap<String, String> = BTreeMap::new();
    let mut pod_ips: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    for i in order {
        let original = &objects[i].object;
        let key = original.key();
        if is_mesh_state(original)
            || of_dropped(original)
            || target.skip.contains(&key)
            || server.store().contains(&key)
        {
            done.left_out += 1;
            continue;
        }
        let mut obj = original.clone();
        let old_uid = std::mem::take(&mut obj.meta_mut().uid);
        {
            let m = obj.meta_mut();
            m.resource_version.clear();
            m.creation_timestamp = None;
            m.generation = 0;
        }
        adopt(server, &mut obj, &uids);
        let rewrite = |r: &mut Option<super::objects::ObjectReference>| {
            if let Some(r) = r
                && let Some(new) = uids.get(&r.uid)
            {
                r.uid = new.clone();
                r.resource_version.clear();
            }
        };
        let mut status = None;
        match &mut obj {
            Object::Endpoints(e) => {
                for s in &mut e.subsets {
                    for a in s.addresses.iter_mut().chain(&mut s.not_ready_addresses) {
                        rewrite(&mut a.target_ref);
                    }
                }
            }
            Object::EndpointSlice(s) => {
                for e in &mut s.endpoints {
                    rewrite(&mut e.target_ref);
                }
            }
            Object::Pod(p) => {
                p.spec.node_name = target.node_name.to_string();
                let ip = p.status.pod_ip.clone();
                if !ip.is_empty() && !p.spec.host_network {
                    let Some(addr) = ip_in(target.pod_cidr, &ip) else {
                        return Err((
                            i,
                            format!(
                                "pod {key}: status.podIP {ip} is not in the cluster's pod network {} (set [[cluster]] pod_cidr to the network the snapshot's pods use)",
                                target.pod_cidr
                            ),
                        ));
                    };
                    if let Some(other) = pod_ips.insert(addr, key.to_string()) {
                        return Err((
                            i,
                            format!(
                                "pod {key}: status.podIP {ip} is already the IP of pod {other}"
                            ),
                        ));
                    }
                }
                status = Some(std::mem::take(&mut p.status));
            }
            _ => {}
        }
        let created = server
            .handle(now, rng, Request::create(obj))
            .map_err(|e| (i, format!("the API server refuses {key}: {}", e.message)))?;
        let Some(stored) = created.object().cloned() else {
            return Err((i, format!("the API server returned no object for {key}")));
        };
        if !old_uid.is_empty() {
            uids.insert(old_uid, stored.meta().uid.clone());
        }
        if let (Some(status), Object::Pod(p)) = (status, &*stored) {
            // The kubelet's status write for the running pod it finds.
            let mut p = p.clone();
            p.status = status;
            server
                .handle(now, rng, Request::update_status(p))
                .map_err(|e| {
                    (
                        i,
                        format!("the API server refuses the status of {key}: {}", e.message),
                    )
                })?;
        }
        done.created += 1;
    }
    Ok(done)
}

/// Rewrites `obj`'s owner references to the restored owners' uids; a pod owned by a
/// ReplicaSet `<deployment>-<hash>` is adopted by that Deployment when it selects the pod.
fn adopt(server: &ApiServer, obj: &mut Object, uids: &BTreeMap<String, String>) {
    let namespace = obj.namespace().to_string();
    let labels = obj.meta().labels.clone();
    let is_pod = obj.kind() == Kind::Pod;
    for r in &mut obj.meta_mut().owner_references {
        if let Some(new) = uids.get(&r.uid) {
            r.uid = new.clone();
            continue;
        }
        if !(is_pod && r.kind == "ReplicaSet" && r.controller == Some(true)) {
            continue;
        }
        let Some((deployment, _hash)) = r.name.rsplit_once('-') else {
            continue;
        };
        let key = ObjectKey::new(Kind::Deployment, &namespace, deployment);
        let Some(owner) = server.store().get(&key) else {
            continue;
        };
        let selects = owner
            .as_deployment()
            .is_some_and(|d| d.spec.selector.matches(&labels));
        if selects {
            *r = OwnerReference::controller_ref(owner);
        }
    }
}
