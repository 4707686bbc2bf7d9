//! One cluster's API server as a sans-IO state machine: object store, revision counter,
//! admission and validation, ClusterIP/NodePort allocation, two-phase deletion, bounded change
//! history and watch fan-out (kubernetes-and-peers spec §B.1–B.8, checklist §B.15 items 1–8).
//!
//! Inputs: [`ApiServer::handle`] (`now`, the component's `Prng`, a [`Request`]),
//! [`ApiServer::open_watch`], [`ApiServer::close_watch`], [`ApiServer::expire_watches`],
//! [`ApiServer::compact`]. Outputs: `Result<Response, Status>` per request and, after any write,
//! watch events fetched in order with [`ApiServer::take_watch_events`].
//! Must not touch: controllers' logic (the garbage collector, namespace controller, endpoints
//! controllers run elsewhere, against caches), the network, clocks; it never sends anything.
//!
//! Modelling notes:
//! - One `u64` revision per server, bumped on every mutation (create, update, status update,
//!   deletion marking, final removal); each object carries the revision of its last change
//!   rendered as a decimal string. A write that changes nothing is a no-op (no bump, no event),
//!   as in the real server.
//! - Watch history keeps every change for `history_window` of virtual time (etcd's 5-minute
//!   compaction) and at most `history_max_events`; a watch from an older revision gets 410.
//! - `compact()` models a forced compaction: history is dropped and every open watch gets an
//!   in-stream `ERROR 410` and is closed, so clients exercise both 410 paths.

use super::api::{
    DeleteOptions, LinkStatusSection, Propagation, Request, Response, Status, Subresource,
    WatchEvent, WatchId, WatchRequest,
};
use super::discovery::Discovery;
use super::objects::{
    Kind, LinkCondition, LinkServiceStatus, Namespace, NamespacePhase, Object, ObjectKey,
    ObjectMeta, OpaqueKind, PodPhase, PodStatus, ServiceType, TypedRef, base64_encode, rfc3339,
};
use super::shared_list::SharedList;
use super::store::{ObjectView, Store};
use super::validation::{self, Ipv4Cidr};
use crate::sim::{Prng, SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The finalizer the API server puts on every namespace (`spec.finalizers`).
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// Finalizer set by a foreground delete.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// Finalizer set by an orphaning delete.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// Namespaces the NamespaceLifecycle admission plugin refuses to delete.
pub const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Alphabet of `generateName` suffixes (no vowels, no confusable digits).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// Range ClusterIPs are allocated from (e.g. `10.96.0.0/16`).
    pub service_cidr: Ipv4Cidr,
    /// Inclusive NodePort range (Kubernetes default 30000-32767).
    pub node_port_min: u16,
    pub node_port_max: u16,
    /// How long changes stay replayable for watches (etcd compaction interval, default 5 min).
    pub history_window: SimDuration,
    /// Upper bound on retained history entries.
    pub history_max_events: usize,
    /// Server-side watch timeout (`crate::defaults::WATCH_TIMEOUT`).
    pub watch_timeout: SimDuration,
    /// `generateName` attempts before 409 AlreadyExists (KEP-4420 retries a few times).
    pub generate_name_attempts: u32,
    /// Reported by `Request::Version`.
    pub git_version: String,
}

impl ApiServerConfig {
    pub fn new(service_cidr: Ipv4Cidr) -> ApiServerConfig {
        ApiServerConfig {
            service_cidr,
            node_port_min: 30_000,
            node_port_max: 32_767,
            history_window: SimDuration::from_mins(5),
            history_max_events: 1_000_000,
            watch_timeout: crate::defaults::WATCH_TIMEOUT,
            generate_name_attempts: 8,
            git_version: "v1.33.0".to_string(),
        }
    }
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        // The literal is a valid CIDR; parsing cannot fail.
        ApiServerConfig::new(
            Ipv4Cidr::parse("10.96.0.0/16").unwrap_or_else(|e| unreachable!("{e}")),
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChangeType {
    Added,
    Modified,
    Deleted,
}

#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    at: SimTime,
    kind: ChangeType,
    obj: Arc<Object>,
    /// The previous state, for MODIFIED (selector transitions).
    prev: Option<Arc<Object>>,
}

#[derive(Clone, Debug)]
struct Watch {
    req: WatchRequest,
    opened_at: SimTime,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UpdateMode {
    Main,
    Status,
    Finalize,
}

pub struct ApiServer {
    config: ApiServerConfig,
    revision: u64,
    store: Store,
    history: VecDeque<Change>,
    /// Watches may resume from any revision `>= history_floor`.
    history_floor: u64,
    watches: BTreeMap<WatchId, Watch>,
    /// (kind, namespace or `None` for all namespaces) → watches, so fan-out only visits
    /// watches that can match.
    watch_index: BTreeMap<(Kind, Option<String>), BTreeSet<WatchId>>,
    pending: Vec<(WatchId, WatchEvent)>,
    cluster_ips: BTreeMap<u64, ObjectKey>,
    ip_cursor: u64,
    node_ports: BTreeMap<u16, ObjectKey>,
    /// Positions of Link status entries by remote Service, per Link (a cache: rebuilt when the
    /// stored Link is not the version it describes).
    link_status_index: BTreeMap<ObjectKey, LinkStatusIndex>,
    /// The kinds this server serves: the built-ins plus those of the CRDs it stores.
    discovery: Discovery,
}

/// Where each remote Service's entries are in one version of a Link's status lists.
struct LinkStatusIndex {
    version: Arc<Object>,
    mirror: BTreeMap<(String, String), Vec<usize>>,
    federated: BTreeMap<(String, String), Vec<usize>>,
}

impl LinkStatusIndex {
    fn build(version: Arc<Object>) -> LinkStatusIndex {
        fn positions(
            list: &SharedList<LinkServiceStatus>,
        ) -> BTreeMap<(String, String), Vec<usize>> {
            let mut out: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
            for (i, e) in list.iter().enumerate() {
                out.entry((e.remote_ref.namespace.clone(), e.remote_ref.name.clone()))
                    .or_default()
                    .push(i);
            }
            out
        }
        let (mirror, federated) = match version.as_link() {
            Some(l) => (
                positions(&l.status.mirror_services),
                positions(&l.status.federated_services),
            ),
            None => (BTreeMap::new(), BTreeMap::new()),
        };
        LinkStatusIndex {
            version,
            mirror,
            federated,
        }
    }
}

impl ApiServer {
    /// A server with the namespaces every cluster has (`default`, `kube-system`,
    /// `kube-public`), created at revision 1..=3 at time zero.
    pub fn new(config: ApiServerConfig, rng: &mut Prng) -> ApiServer {
        let mut s = ApiServer {
            ip_cursor: config.service_cidr.usable().start,
            config,
            revision: 0,
            store: Store::new(),
            history: VecDeque::new(),
            history_floor: 0,
            watches: BTreeMap::new(),
            watch_index: BTreeMap::new(),
            pending: Vec::new(),
            cluster_ips: BTreeMap::new(),
            node_ports: BTreeMap::new(),
            link_status_index: BTreeMap::new(),
            discovery: Discovery::new(),
        };
        for ns in IMMORTAL_NAMESPACES {
            let created = s.handle(SimTime::ZERO, rng, Request::create(Namespace::new(ns)));
            debug_assert!(created.is_ok(), "creating namespace {ns}: {created:?}");
        }
        s
    }

    pub fn config(&self) -> &ApiServerConfig {
        &self.config
    }
    /// The current revision (what a list would report).
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// All stored objects in key order.
    pub fn objects(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.store.values()
    }
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// The kinds this server serves (built-in kinds and those of its stored CRDs).
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }
    pub fn len(&self) -> usize {
        self.store.len()
    }
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }
    /// Open watch ids.
    pub fn open_watches(&self) -> impl Iterator<Item = WatchId> + '_ {
        self.watches.keys().copied()
    }
    /// Earliest instant at which an open watch times out.
    pub fn next_watch_expiry(&self) -> Option<SimTime> {
        self.watches
            .values()
            .map(|w| w.opened_at + self.config.watch_timeout)
            .min()
    }
    /// Number of allocated ClusterIPs.
    pub fn cluster_ips_allocated(&self) -> usize {
        self.cluster_ips.len()
    }

    /// Serves one request.
    pub fn handle(
        &mut self,
        now: SimTime,
        rng: &mut Prng,
        req: Request,
    ) -> Result<Response, Status> {
        match req {
            Request::Get { key } => {
                let key = ObjectKey::new(key.kind, &key.namespace, &key.name);
                self.store
                    .get(&key)
                    .cloned()
                    .map(Response::Object)
                    .ok_or_else(|| Status::not_found(key.kind, &key.name))
            }
            Request::List {
                kind,
                namespace,
                selector,
            } => {
                let items = self
                    .store
                    .range(kind, namespace.as_deref().filter(|_| kind.namespaced()))
                    .filter(|o| selector.as_ref().is_none_or(|s| s.matches(o.labels())))
                    .cloned()
                    .collect();
                Ok(Response::List {
                    items,
                    resource_version: self.revision,
                })
            }
            Request::Create { object } => self.create(now, rng, object).map(Response::Object),
            Request::Update { object } => self.update(now, object, UpdateMode::Main),
            Request::UpdateStatus { object } => {
                if !object.kind().has_status() {
                    return Err(Status::new(
                        404,
                        super::api::StatusReason::NotFound,
                        format!(
                            "the server could not find the requested resource ({} status)",
                            object.kind().resource()
                        ),
                    ));
                }
                self.update(now, object, UpdateMode::Status)
            }
            Request::Finalize { object } => {
                if object.kind() != Kind::Namespace {
                    return Err(Status::bad_request(
                        "only namespaces have a finalize subresource",
                    ));
                }
                self.update(now, object, UpdateMode::Finalize)
            }
            Request::Patch {
                key,
                subresource,
                patch,
            } => {
                let key = ObjectKey::new(key.kind, &key.namespace, &key.name);
                self.patch(now, key, subresource, &patch)
            }
            Request::PatchLinkStatus {
                key,
                section,
                namespace,
                name,
                controller_name,
                condition,
            } => {
                let key = ObjectKey::new(key.kind, &key.namespace, &key.name);
                self.patch_link_status(
                    now,
                    key,
                    section,
                    (namespace, name),
                    controller_name,
                    condition,
                )
            }
            Request::Delete { key, options } => self.delete(now, key, &options),
            Request::Version => Ok(Response::Version {
                git_version: self.config.git_version.clone(),
            }),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Create
    // -----------------------------------------------------------------------------------------

    fn create(
        &mut self,
        now: SimTime,
        rng: &mut Prng,
        mut obj: Object,
    ) -> Result<Arc<Object>, Status> {
        let kind = obj.kind();
        if !self.discovery.serves(kind) {
            return Err(Status::new(
                404,
                super::api::StatusReason::NotFound,
                format!(
                    "the server could not find the requested resource ({})",
                    kind.resource()
                ),
            ));
        }
        if !kind.namespaced() {
            obj.meta_mut().namespace.clear();
        }
        let display_name = if obj.meta().name.is_empty() {
            obj.meta().generate_name.clone()
        } else {
            obj.meta().name.clone()
        };
        if kind.namespaced() && obj.meta().namespace.is_empty() {
            return Err(Status::invalid(
                kind,
                &display_name,
                &["metadata.namespace: Required value".to_string()],
            ));
        }
        if obj.meta().name.is_empty() && obj.meta().generate_name.is_empty() {
            return Err(Status::invalid(
                kind,
                "",
                &["metadata.name: Required value: name or generateName is required".to_string()],
            ));
        }
        // Validate with a representative name so a bad generateName prefix is caught early.
        let probe_name = if obj.meta().name.is_empty() {
            format!("{}{}", truncate_prefix(&obj.meta().generate_name), "bcdfg")
        } else {
            obj.meta().name.clone()
        };
        let mut causes = validation::name_errors(&obj, &probe_name);
        self.default_on_write(&mut obj, None);
        causes.extend(self.validate(&obj, None));
        if !causes.is_empty() {
            return Err(Status::invalid(kind, &display_name, &causes));
        }
        self.admit_namespace(&obj, &display_name)?;

        // Server-owned metadata.
        {
            let m = obj.meta_mut();
            m.uid = new_uid(rng);
            m.resource_version.clear();
            m.creation_timestamp = Some(rfc3339(now));
            m.deletion_timestamp = None;
            m.deletion_grace_period_seconds = None;
            m.generation = if kind.has_generation() { 1 } else { 0 };
        }
        reset_status_on_create(&mut obj);

        // Name (with generateName retries).
        if obj.meta().name.is_empty() {
            let prefix = truncate_prefix(&obj.meta().generate_name);
            let mut chosen = None;
            for _ in 0..self.config.generate_name_attempts.max(1) {
                let candidate = format!("{prefix}{}", random_suffix(rng));
                if !self
                    .store
                    .contains(&ObjectKey::new(kind, &obj.meta().namespace, &candidate))
                {
                    chosen = Some(candidate);
                    break;
                }
            }
            match chosen {
                Some(name) => obj.meta_mut().name = name,
                None => return Err(Status::already_exists(kind, &format!("{prefix}*"))),
            }
        }
        let key = obj.key();
        if let Some(existing) = self.store.get(&key) {
            let mut st = Status::already_exists(kind, &key.name);
            if existing.meta().is_terminating() {
                st.message = format!("object is being deleted: {}", st.message);
            }
            return Err(st);
        }
        self.allocate_service_addresses(&mut obj, &key, None)?;
        let rv = self.bump();
        obj.meta_mut().resource_version = rv.to_string();
        let obj = Arc::new(obj);
        self.discovery.learn(&obj);
        self.store.insert_with_key(key, obj.clone());
        self.record(now, ChangeType::Added, obj.clone(), None);
        Ok(obj)
    }

    fn admit_namespace(&self, obj: &Object, display_name: &str) -> Result<(), Status> {
        if !obj.kind().namespaced() {
            return Ok(());
        }
        let ns = &obj.meta().namespace;
        match self
            .store
            .get(&ObjectKey::new(Kind::Namespace, "", ns))
            .and_then(|o| o.as_namespace())
        {
            None => Err(Status::not_found(Kind::Namespace, ns)),
            Some(n) if n.metadata.is_terminating() || n.phase() == NamespacePhase::Terminating => {
                Err(Status::forbidden(
                    obj.kind(),
                    display_name,
                    &format!(
                        "unable to create new content in namespace {ns} because it is being terminated"
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// Server-side defaulting applied on every write (`stored` is `None` on create).
    fn default_on_write(&self, obj: &mut Object, stored: Option<&Object>) {
        match obj {
            Object::Namespace(n) if stored.is_none() && n.spec.finalizers.is_empty() => {
                n.spec.finalizers.push(FINALIZER_KUBERNETES.to_string());
            }
            Object::Service(s) => {
                for p in &mut s.spec.ports {
                    if p.target_port.is_none() {
                        p.target_port = Some(super::objects::IntOrString::Int(p.port));
                    }
                }
                if let Some(Object::Service(old)) = stored {
                    // `patchAllocatedValues`: an omitted clusterIP/clusterIPs is copied from
                    // the stored object before validation.
                    if s.spec.cluster_ip.is_empty() && s.spec.type_ != ServiceType::ExternalName {
                        s.spec.cluster_ip = old.spec.cluster_ip.clone();
                    }
                    if s.spec.cluster_ips.is_empty() && s.spec.cluster_ip == old.spec.cluster_ip {
                        s.spec.cluster_ips = old.spec.cluster_ips.clone();
                    }
                    let wants_node_ports = matches!(
                        s.spec.type_,
                        ServiceType::NodePort | ServiceType::LoadBalancer
                    );
                    for p in &mut s.spec.ports {
                        if wants_node_ports
                            && p.node_port.is_none()
                            && let Some(q) = old
                                .spec
                                .ports
                                .iter()
                                .find(|q| q.port == p.port && q.protocol == p.protocol)
                        {
                            p.node_port = q.node_port;
                        }
                    }
                }
                if s.spec.cluster_ips.is_empty() && !s.spec.cluster_ip.is_empty() {
                    s.spec.cluster_ips = vec![s.spec.cluster_ip.clone()];
                }
            }
            Object::Secret(s) => {
                for (k, v) in std::mem::take(&mut s.string_data) {
                    s.data.insert(k, base64_encode(v.as_bytes()));
                }
                if s.type_.is_empty() {
                    s.type_ = "Opaque".to_string();
                }
            }
            Object::Link(l) => l.apply_crd_defaults(),
            _ => {}
        }
    }

    /// Stateless validation plus immutability against `stored`.
    fn validate(&self, obj: &Object, stored: Option<&Object>) -> Vec<String> {
        let mut out = validation::label_errors(&obj.meta().labels, "metadata.labels");
        match obj {
            Object::Service(s) => {
                out.extend(validation::service_errors(s));
                if let Some(Object::Service(old)) = stored
                    && s.spec.cluster_ip != old.spec.cluster_ip
                {
                    out.push(format!(
                        "spec.clusterIP: Invalid value: \"{}\": field is immutable",
                        s.spec.cluster_ip
                    ));
                }
            }
            Object::Endpoints(e) => out.extend(validation::endpoints_errors(e)),
            Object::EndpointSlice(e) => out.extend(validation::endpoint_slice_errors(e)),
            Object::Pod(p) => {
                for (field, v) in [
                    ("spec.hostname", &p.spec.hostname),
                    ("spec.subdomain", &p.spec.subdomain),
                ] {
                    if !v.is_empty() && !validation::is_dns1123_label(v) {
                        out.push(format!(
                            "{field}: Invalid value: \"{v}\": must be a lowercase RFC 1123 label"
                        ));
                    }
                }
            }
            Object::StatefulSet(s) => {
                out.extend(validation::workload_errors(
                    s.spec.replicas,
                    &s.spec.selector,
                    &s.spec.template.metadata.labels,
                ));
                if let Some(Object::StatefulSet(old)) = stored
                    && (old.spec.service_name != s.spec.service_name
                        || old.spec.selector != s.spec.selector
                        || old.spec.pod_management_policy != s.spec.pod_management_policy)
                {
                    out.push("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_string());
                }
            }
            Object::Deployment(d) => {
                out.extend(validation::workload_errors(
                    d.spec.replicas,
                    &d.spec.selector,
                    &d.spec.template.metadata.labels,
                ));
                if let Some(Object::Deployment(old)) = stored
                    && old.spec.selector != d.spec.selector
                {
                    out.push(format!(
                        "spec.selector: Invalid value: \"{}\": field is immutable",
                        d.spec.selector
                    ));
                }
            }
            Object::Namespace(_)
            | Object::Secret(_)
            | Object::Event(_)
            | Object::Link(_)
            | Object::Opaque(_) => {}
        }
        out
    }

    /// Allocates or checks ClusterIP and NodePorts; on update `stored` is the previous state.
    /// Nothing is committed to the allocators unless every allocation succeeds.
    fn allocate_service_addresses(
        &mut self,
        obj: &mut Object,
        key: &ObjectKey,
        stored: Option<&Object>,
    ) -> Result<(), Status> {
        let Object::Service(svc) = obj else {
            return Ok(());
        };
        let cidr = self.config.service_cidr;
        let mut new_ip: Option<u64> = None;
        if stored.is_none() && svc.spec.type_ != ServiceType::ExternalName && !svc.is_headless() {
            if svc.spec.cluster_ip.is_empty() {
                let usable = cidr.usable();
                let span = usable.end - usable.start;
                let mut found = None;
                for i in 0..span {
                    let off = usable.start + (self.ip_cursor - usable.start + i) % span.max(1);
                    if !self.cluster_ips.contains_key(&off) {
                        found = Some(off);
                        break;
                    }
                }
                let Some(off) = found else {
                    return Err(Status::internal(
                        "failed to allocate a serviceIP: range is full",
                    ));
                };
                svc.spec.cluster_ip = cidr.nth(off).to_string();
                svc.spec.cluster_ips = vec![svc.spec.cluster_ip.clone()];
                new_ip = Some(off);
            } else {
                let ip_text = svc.spec.cluster_ip.clone();
                let fail = |why: String| {
                    Status::invalid(
                        Kind::Service,
                        &key.name,
                        &[format!(
                            "spec.clusterIPs: Invalid value: []string{{\"{ip_text}\"}}: failed to allocate IP {ip_text}: {why}"
                        )],
                    )
                };
                let ip: Ipv4Addr = ip_text
                    .parse()
                    .map_err(|_| fail("not a valid IPv4 address".into()))?;
                let off = cidr.offset_of(ip).filter(|o| cidr.usable().contains(o)).ok_or_else(|| {
                    fail(format!(
                        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}"
                    ))
                })?;
                if self.cluster_ips.contains_key(&off) {
                    return Err(fail("provided IP is already allocated".into()));
                }
                new_ip = Some(off);
            }
        }
        // Node ports.
        let wants_node_ports = matches!(
            svc.spec.type_,
            ServiceType::NodePort | ServiceType::LoadBalancer
        );
        let mut taken: BTreeSet<u16> = BTreeSet::new();
        let mut to_allocate = vec![];
        for (i, p) in svc.spec.ports.iter().enumerate() {
            if !wants_node_ports {
                continue;
            }
            match p.node_port {
                Some(np) => {
                    let np16 = u16::try_from(np).unwrap_or(0);
                    let owner = self.node_ports.get(&np16);
                    if owner.is_some_and(|o| o != key) || !taken.insert(np16) {
                        return Err(Status::invalid(
                            Kind::Service,
                            &key.name,
                            &[format!(
                                "spec.ports[{i}].nodePort: Invalid value: {np}: provided port is already allocated"
                            )],
                        ));
                    }
                    if np16 < self.config.node_port_min || np16 > self.config.node_port_max {
                        return Err(Status::invalid(
                            Kind::Service,
                            &key.name,
                            &[format!(
                                "spec.ports[{i}].nodePort: Invalid value: {np}: provided port is not in the valid range. The range of valid ports is {}-{}",
                                self.config.node_port_min, self.config.node_port_max
                            )],
                        ));
                    }
                }
                None => to_allocate.push(i),
            }
        }
        for i in to_allocate {
            let free = (self.config.node_port_min..=self.config.node_port_max)
                .find(|p| !taken.contains(p) && self.node_ports.get(p).is_none_or(|o| o == key));
            let Some(p) = free else {
                return Err(Status::internal(
                    "failed to allocate a nodePort: range is full",
                ));
            };
            taken.insert(p);
            svc.spec.ports[i].node_port = Some(i32::from(p));
        }
        // Commit.
        if let Some(off) = new_ip {
            self.cluster_ips.insert(off, key.clone());
            self.ip_cursor = off + 1;
        }
        self.node_ports
            .retain(|p, owner| owner != key || taken.contains(p));
        for p in taken {
            self.node_ports.insert(p, key.clone());
        }
        Ok(())
    }

    fn release_service_addresses(&mut self, key: &ObjectKey) {
        if key.kind == Kind::Service {
            self.cluster_ips.retain(|_, owner| owner != key);
            self.node_ports.retain(|_, owner| owner != key);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Update, status update, finalize, patch
    // -----------------------------------------------------------------------------------------

    fn update(
        &mut self,
        now: SimTime,
        mut new: Object,
        mode: UpdateMode,
    ) -> Result<Response, Status> {
        let kind = new.kind();
        if !kind.namespaced() {
            new.meta_mut().namespace.clear();
        }
        let key = new.key();
        let Some(stored) = self.store.get(&key).cloned() else {
            return Err(Status::not_found(kind, &key.name));
        };
        let req_rv = &new.meta().resource_version;
        if !req_rv.is_empty() && *req_rv != stored.meta().resource_version {
            return Err(Status::conflict(kind, &key.name));
        }
        let req_uid = &new.meta().uid;
        if !req_uid.is_empty() && *req_uid != stored.meta().uid {
            return Err(Status::new(
                409,
                super::api::StatusReason::Conflict,
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    kind.resource(),
                    key.name,
                    req_uid,
                    stored.meta().uid
                ),
            ));
        }
        let mut candidate = match mode {
            UpdateMode::Main => {
                let mut c = new;
                c.set_status_from(&stored);
                if let (Object::Namespace(c), Object::Namespace(s)) = (&mut c, &*stored) {
                    c.spec.finalizers = s.spec.finalizers.clone();
                }
                keep_server_metadata(c.meta_mut(), stored.meta());
                c
            }
            UpdateMode::Status => {
                let mut c = (*stored).clone();
                c.set_status_from(&new);
                c
            }
            UpdateMode::Finalize => {
                let mut c = (*stored).clone();
                if let (Object::Namespace(c), Object::Namespace(n)) = (&mut c, &new) {
                    c.spec.finalizers = n.spec.finalizers.clone();
                }
                c
            }
        };
        self.default_on_write(&mut candidate, Some(&stored));
        let causes = self.validate(&candidate, Some(&stored));
        if !causes.is_empty() {
            return Err(Status::invalid(kind, &key.name, &causes));
        }
        if stored.meta().is_terminating() {
            let added: Vec<&String> = candidate
                .meta()
                .finalizers
                .iter()
                .filter(|f| !stored.meta().finalizers.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(Status::invalid(
                    kind,
                    &key.name,
                    &[format!(
                        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    )],
                ));
            }
        }
        candidate.meta_mut().resource_version = stored.meta().resource_version.clone();
        if candidate == *stored {
            return Ok(Response::Object(stored));
        }
        if kind.has_generation() && !candidate.spec_eq(&stored) {
            candidate.meta_mut().generation = stored.meta().generation + 1;
        }
        self.allocate_service_addresses(&mut candidate, &key, Some(&stored))?;
        if ready_to_remove(&candidate) {
            return Ok(Response::Deleted(self.remove(now, &key, candidate)));
        }
        let rv = self.bump();
        candidate.meta_mut().resource_version = rv.to_string();
        let candidate = Arc::new(candidate);
        self.store.insert_with_key(key, candidate.clone());
        self.record(now, ChangeType::Modified, candidate.clone(), Some(stored));
        Ok(Response::Object(candidate))
    }

    fn patch(
        &mut self,
        now: SimTime,
        key: ObjectKey,
        subresource: Subresource,
        patch: &serde_json::Value,
    ) -> Result<Response, Status> {
        let Some(stored) = self.store.get(&key).cloned() else {
            return Err(Status::not_found(key.kind, &key.name));
        };
        let mut doc =
            serde_json::to_value(&*stored).map_err(|e| Status::internal(&e.to_string()))?;
        merge_patch(&mut doc, patch);
        let patched = Object::from_json_value_in(doc, &self.discovery)
            .map_err(|e| Status::bad_request(format!("invalid patch: {e}")))?;
        if patched.key() != key {
            return Err(Status::invalid(
                key.kind,
                &key.name,
                &["metadata.name: Invalid value: a patch may not change the name, namespace or kind".to_string()],
            ));
        }
        let mode = match subresource {
            Subresource::Main => UpdateMode::Main,
            Subresource::Status if key.kind.has_status() => UpdateMode::Status,
            Subresource::Status => {
                return Err(Status::not_found(key.kind, &key.name));
            }
        };
        self.update(now, patched, mode)
    }

    /// [`Request::PatchLinkStatus`]: the entries of `remote` (namespace, name) in one status
    /// list get `condition` as their only condition, or a new entry is appended, or (`None`)
    /// they are removed; then the same status update a merge patch leads to.
    fn patch_link_status(
        &mut self,
        now: SimTime,
        key: ObjectKey,
        section: LinkStatusSection,
        remote: (String, String),
        controller_name: String,
        condition: Option<LinkCondition>,
    ) -> Result<Response, Status> {
        let Some(stored) = self.store.get(&key).cloned() else {
            return Err(Status::not_found(key.kind, &key.name));
        };
        if stored.as_link().is_none() {
            return Err(Status::bad_request(format!(
                "a Link status patch cannot apply to {key}"
            )));
        }
        let index = match self.link_status_index.remove(&key) {
            Some(i) if Arc::ptr_eq(&i.version, &stored) => i,
            _ => LinkStatusIndex::build(stored.clone()),
        };
        let mut index = index;
        let mut patched = (*stored).clone();
        let Object::Link(link) = &mut patched else {
            unreachable!("checked above")
        };
        let (list, positions) = match section {
            LinkStatusSection::MirrorServices => {
                (&mut link.status.mirror_services, &mut index.mirror)
            }
            LinkStatusSection::FederatedServices => {
                (&mut link.status.federated_services, &mut index.federated)
            }
        };
        let mut index_changed = false;
        match condition {
            Some(cond) => match positions.get(&remote) {
                Some(at) => {
                    for &i in at {
                        if let Some(e) = list.get(i) {
                            let entry = LinkServiceStatus {
                                controller_name: e.controller_name.clone(),
                                remote_ref: e.remote_ref.clone(),
                                conditions: vec![cond.clone()],
                            };
                            list.set(i, entry);
                        }
                    }
                }
                None => {
                    index_changed = true;
                    positions.insert(remote.clone(), vec![list.len()]);
                    list.push(LinkServiceStatus {
                        controller_name,
                        remote_ref: TypedRef {
                            group: String::new(),
                            kind: "Service".to_string(),
                            name: remote.1,
                            namespace: remote.0,
                        },
                        conditions: vec![cond],
                    });
                }
            },
            None => {
                if let Some(at) = positions.remove(&remote) {
                    index_changed = true;
                    for &i in at.iter().rev() {
                        list.remove(i);
                        for p in positions.values_mut().flatten() {
                            if *p > i {
                                *p -= 1;
                            }
                        }
                    }
                }
            }
        }
        let result = self.update(now, patched, UpdateMode::Status);
        match &result {
            Ok(Response::Object(o)) if !Arc::ptr_eq(o, &stored) => {
                index.version = o.clone();
                self.link_status_index.insert(key, index);
            }
            Ok(Response::Object(_)) if !index_changed => {
                self.link_status_index.insert(key, index);
            }
            _ => {}
        }
        result
    }

    // -----------------------------------------------------------------------------------------
    // Delete
    // -----------------------------------------------------------------------------------------

    fn delete(
        &mut self,
        now: SimTime,
        key: ObjectKey,
        opts: &DeleteOptions,
    ) -> Result<Response, Status> {
        let key = ObjectKey::new(key.kind, &key.namespace, &key.name);
        let Some(stored) = self.store.get(&key).cloned() else {
            return Err(Status::not_found(key.kind, &key.name));
        };
        if let Some(uid) = &opts.precondition_uid
            && *uid != stored.meta().uid
        {
            return Err(Status::new(
                409,
                super::api::StatusReason::Conflict,
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    key.kind.resource(),
                    key.name,
                    uid,
                    stored.meta().uid
                ),
            ));
        }
        if key.kind == Kind::Namespace && IMMORTAL_NAMESPACES.contains(&key.name.as_str()) {
            return Err(Status::forbidden(
                Kind::Namespace,
                &key.name,
                "this namespace may not be deleted",
            ));
        }
        let mut obj = (*stored).clone();
        if stored.meta().is_terminating() {
            // A repeated delete only matters for a pod being force-deleted (grace 0).
            if let Object::Pod(_) = &obj
                && opts.grace_period_seconds == Some(0)
                && obj.meta().deletion_grace_period_seconds != Some(0)
            {
                obj.meta_mut().deletion_grace_period_seconds = Some(0);
                if obj.meta().finalizers.is_empty() {
                    return Ok(Response::Deleted(self.remove(now, &key, obj)));
                }
                return self.commit_modified(now, key, obj, stored);
            }
            return Ok(Response::Object(stored));
        }
        match opts.propagation_policy {
            Propagation::Background => {}
            Propagation::Foreground => obj
                .meta_mut()
                .finalizers
                .push(FINALIZER_FOREGROUND.to_string()),
            Propagation::Orphan => obj.meta_mut().finalizers.push(FINALIZER_ORPHAN.to_string()),
        }
        // Graceful pod deletion: a scheduled pod gets a deletionTimestamp in the future and is
        // removed by its kubelet (or by a later delete with grace 0).
        let mut grace = 0i64;
        if let Object::Pod(p) = &obj
            && !p.spec.node_name.is_empty()
            && !p.is_terminal()
        {
            grace = opts
                .grace_period_seconds
                .or(p.spec.termination_grace_period_seconds)
                .unwrap_or(30)
                .max(0);
        }
        let namespace_pending = match &mut obj {
            Object::Namespace(n) => {
                n.status.phase = Some(NamespacePhase::Terminating);
                !n.spec.finalizers.is_empty()
            }
            _ => false,
        };
        if obj.meta().finalizers.is_empty() && grace == 0 && !namespace_pending {
            return Ok(Response::Deleted(self.remove(now, &key, obj)));
        }
        let m = obj.meta_mut();
        m.deletion_timestamp = Some(rfc3339(
            now + SimDuration::from_secs(1).saturating_mul(grace as u64),
        ));
        m.deletion_grace_period_seconds = Some(grace);
        self.commit_modified(now, key, obj, stored)
    }

    fn commit_modified(
        &mut self,
        now: SimTime,
        key: ObjectKey,
        mut obj: Object,
        stored: Arc<Object>,
    ) -> Result<Response, Status> {
        let rv = self.bump();
        obj.meta_mut().resource_version = rv.to_string();
        let obj = Arc::new(obj);
        self.store.insert_with_key(key, obj.clone());
        self.record(now, ChangeType::Modified, obj.clone(), Some(stored));
        Ok(Response::Object(obj))
    }

    /// Final removal: bumps the revision, releases addresses, emits DELETED with the last state.
    fn remove(&mut self, now: SimTime, key: &ObjectKey, mut last: Object) -> Arc<Object> {
        let rv = self.bump();
        last.meta_mut().resource_version = rv.to_string();
        let last = Arc::new(last);
        self.store.remove(key);
        self.discovery.forget(&last);
        self.release_service_addresses(key);
        self.record(now, ChangeType::Deleted, last.clone(), None);
        last
    }

    fn bump(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    // -----------------------------------------------------------------------------------------
    // History and watches
    // -----------------------------------------------------------------------------------------

    fn record(
        &mut self,
        now: SimTime,
        kind: ChangeType,
        obj: Arc<Object>,
        prev: Option<Arc<Object>>,
    ) {
        let rv = self.revision;
        if let Some(last) = self.history.back() {
            assert!(
                last.rv < rv,
                "revision went backwards at {}: {} then {}",
                obj.key(),
                last.rv,
                rv
            );
        }
        let change = Change {
            rv,
            at: now,
            kind,
            obj,
            prev,
        };
        self.fan_out(&change);
        self.history.push_back(change);
        self.trim_history(now);
    }

    fn trim_history(&mut self, now: SimTime) {
        while let Some(front) = self.history.front() {
            let too_old = front.at + self.config.history_window < now;
            if !too_old && self.history.len() <= self.config.history_max_events {
                break;
            }
            self.history_floor = front.rv;
            self.history.pop_front();
        }
    }

    fn fan_out(&mut self, change: &Change) {
        let kind = change.obj.kind();
        let ns = change.obj.namespace().to_string();
        let mut kinds = vec![kind];
        if let Kind::Opaque(_) = kind {
            kinds.push(Kind::Opaque(OpaqueKind::ANY));
        }
        let mut ids: Vec<WatchId> = Vec::new();
        let mut sets = 0;
        for k in kinds {
            let all = self.watch_index.get(&(k, None));
            let in_ns = if k.namespaced() {
                self.watch_index.get(&(k, Some(ns.clone())))
            } else {
                None
            };
            for set in all.into_iter().chain(in_ns) {
                sets += 1;
                ids.extend(set.iter().copied());
            }
        }
        if sets > 1 {
            ids.sort_unstable();
        }
        for id in ids {
            if let Some(w) = self.watches.get(&id)
                && let Some(ev) = translate(&w.req, change)
            {
                self.pending.push((id, ev));
            }
        }
    }

    /// Opens a watch. Returns the initial events (synthetic ADDED for an unset/zero RV, the
    /// replayed history after the RV otherwise); later events arrive through
    /// [`Self::take_watch_events`]. Errors: 410 for a compacted RV, 504 for a future RV, 400 for
    /// an id already in use.
    pub fn open_watch(
        &mut self,
        now: SimTime,
        id: WatchId,
        req: WatchRequest,
    ) -> Result<Vec<WatchEvent>, Status> {
        if self.watches.contains_key(&id) {
            return Err(Status::bad_request(format!(
                "watch id {} is already open",
                id.0
            )));
        }
        let initial = match req.resource_version {
            None | Some(0) => self
                .store
                .range(
                    req.kind,
                    req.namespace.as_deref().filter(|_| req.kind.namespaced()),
                )
                .filter(|o| req.selects(o))
                .map(|o| WatchEvent::Added(o.clone()))
                .collect(),
            Some(rv) if rv < self.history_floor => {
                return Err(Status::expired(rv, self.history_floor));
            }
            Some(rv) if rv > self.revision => {
                return Err(Status::new(
                    504,
                    super::api::StatusReason::Timeout,
                    format!(
                        "Too large resource version: {rv}, current: {}",
                        self.revision
                    ),
                ));
            }
            Some(rv) => {
                let start = self.history.partition_point(|c| c.rv <= rv);
                self.history
                    .range(start..)
                    .filter_map(|c| translate(&req, c))
                    .collect()
            }
        };
        let ns_key = req.namespace.clone().filter(|_| req.kind.namespaced());
        self.watch_index
            .entry((req.kind, ns_key))
            .or_default()
            .insert(id);
        self.watches.insert(
            id,
            Watch {
                req,
                opened_at: now,
            },
        );
        Ok(initial)
    }

    /// Closes a watch (client went away). Unknown ids are ignored.
    pub fn close_watch(&mut self, id: WatchId) {
        if let Some(w) = self.watches.remove(&id) {
            let ns_key = w.req.namespace.clone().filter(|_| w.req.kind.namespaced());
            if let Some(set) = self.watch_index.get_mut(&(w.req.kind, ns_key.clone())) {
                set.remove(&id);
                if set.is_empty() {
                    self.watch_index.remove(&(w.req.kind, ns_key));
                }
            }
        }
    }

    /// Closes every watch open for at least the server-side timeout; returns their ids (the
    /// streams end cleanly: clients rewatch from their last RV).
    pub fn expire_watches(&mut self, now: SimTime) -> Vec<WatchId> {
        let timeout = self.config.watch_timeout;
        let expired: Vec<WatchId> = self
            .watches
            .iter()
            .filter(|(_, w)| w.opened_at + timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.close_watch(*id);
        }
        expired
    }

    /// Drops all history: later watches from an older RV get 410, and every open watch gets an
    /// in-stream `ERROR 410` and is closed. Returns the closed watch ids.
    pub fn compact(&mut self) -> Vec<WatchId> {
        self.history.clear();
        self.history_floor = self.revision;
        let ids: Vec<WatchId> = self.watches.keys().copied().collect();
        for id in &ids {
            self.pending.push((
                *id,
                WatchEvent::Error(Status::expired(self.revision, self.revision)),
            ));
            self.close_watch(*id);
        }
        ids
    }

    /// Queues a BOOKMARK at the current revision on every open watch.
    pub fn send_bookmarks(&mut self) {
        let rv = self.revision;
        for id in self.watches.keys() {
            self.pending.push((*id, WatchEvent::Bookmark(rv)));
        }
    }

    /// Watch events produced since the last call, in the order the writes happened.
    pub fn take_watch_events(&mut self) -> Vec<(WatchId, WatchEvent)> {
        std::mem::take(&mut self.pending)
    }

    /// Oldest revision a watch can still resume from.
    pub fn history_floor(&self) -> u64 {
        self.history_floor
    }
}

impl ObjectView for ApiServer {
    fn get(&self, key: &ObjectKey) -> Option<&Arc<Object>> {
        self.store.get(key)
    }
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Arc<Object>> {
        self.store.list(kind, namespace)
    }
    fn list_prefix(&self, kind: Kind, namespace: &str, prefix: &str) -> Vec<&Arc<Object>> {
        self.store.list_prefix(kind, namespace, prefix)
    }
    fn list_labelled(
        &self,
        kind: Kind,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Vec<&Arc<Object>> {
        self.store.list_labelled(kind, namespace, key, value)
    }
    fn list_controlled_by(&self, kind: Kind, namespace: &str, uid: &str) -> Vec<&Arc<Object>> {
        self.store.list_controlled_by(kind, namespace, uid)
    }
    fn services_selecting(
        &self,
        namespace: &str,
        labels: &crate::k8s::objects::StringMap,
    ) -> Vec<&Arc<Object>> {
        self.store.services_selecting(namespace, labels)
    }
}

/// The event a change produces on one watch, honouring selector transitions (entering the
/// selection = ADDED, leaving it = DELETED with the previous state at the new RV).
fn translate(req: &WatchRequest, c: &Change) -> Option<WatchEvent> {
    match c.kind {
        ChangeType::Added => req
            .selects(&c.obj)
            .then(|| WatchEvent::Added(c.obj.clone())),
        ChangeType::Deleted => req
            .selects(&c.obj)
            .then(|| WatchEvent::Deleted(c.obj.clone())),
        ChangeType::Modified => {
            let now_in = req.selects(&c.obj);
            let was_in = c.prev.as_ref().is_some_and(|p| req.selects(p));
            match (was_in, now_in) {
                (true, true) => Some(WatchEvent::Modified(c.obj.clone())),
                (false, true) => Some(WatchEvent::Added(c.obj.clone())),
                (true, false) => {
                    let mut last = c.prev.as_deref().cloned()?;
                    last.meta_mut().resource_version = c.rv.to_string();
                    Some(WatchEvent::Deleted(Arc::new(last)))
                }
                (false, false) => None,
            }
        }
    }
}

fn keep_server_metadata(m: &mut ObjectMeta, stored: &ObjectMeta) {
    m.uid = stored.uid.clone();
    m.creation_timestamp = stored.creation_timestamp.clone();
    m.deletion_timestamp = stored.deletion_timestamp.clone();
    m.deletion_grace_period_seconds = stored.deletion_grace_period_seconds;
    m.generation = stored.generation;
    m.generate_name = stored.generate_name.clone();
}

fn reset_status_on_create(obj: &mut Object) {
    match obj {
        Object::Namespace(n) => n.status.phase = Some(NamespacePhase::Active),
        Object::Service(s) => s.status = Default::default(),
        Object::Pod(p) => {
            p.status = PodStatus {
                phase: Some(PodPhase::Pending),
                ..PodStatus::default()
            }
        }
        Object::StatefulSet(s) => s.status = Default::default(),
        Object::Deployment(d) => d.status = Default::default(),
        Object::Link(l) => l.status = Default::default(),
        // An opaque kind's status (if it has one) is the server's to write, as for the
        // modelled kinds with a status subresource.
        Object::Opaque(o) => {
            o.content.remove("status");
        }
        Object::Endpoints(_) | Object::EndpointSlice(_) | Object::Secret(_) | Object::Event(_) => {}
    }
}

/// Deletion is complete once the object is marked and nothing holds it.
fn ready_to_remove(obj: &Object) -> bool {
    let m = obj.meta();
    if !m.is_terminating() || !m.finalizers.is_empty() {
        return false;
    }
    match obj {
        Object::Namespace(n) => n.spec.finalizers.is_empty(),
        // A graceful pod deletion waits for its kubelet (or a delete with grace 0).
        Object::Pod(_) => m.deletion_grace_period_seconds.unwrap_or(0) == 0,
        _ => true,
    }
}

/// `generateName` prefixes are cut so that prefix + 5 characters fits in 63.
fn truncate_prefix(prefix: &str) -> String {
    prefix.chars().take(58).collect()
}

fn random_suffix(rng: &mut Prng) -> String {
    (0..5)
        .map(|_| NAME_ALPHABET[rng.below(NAME_ALPHABET.len() as u64) as usize] as char)
        .collect()
}

/// A random (version 4 shaped) UUID.
fn new_uid(rng: &mut Prng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch_map {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::api::StatusReason;
    use crate::k8s::objects::{Service, ServicePort};

    fn server(cidr: &str) -> (ApiServer, Prng) {
        let mut rng = Prng::stream(1, "test/apiserver");
        let cfg = ApiServerConfig::new(Ipv4Cidr::parse(cidr).unwrap());
        (ApiServer::new(cfg, &mut rng), rng)
    }

    fn svc(name: &str) -> Service {
        let mut s = Service::new("default", name);
        s.spec.ports.push(ServicePort::tcp("http", 80));
        s
    }

    #[test]
    fn starts_with_the_builtin_namespaces_and_bumps_one_revision_per_write() {
        let (mut api, mut rng) = server("10.96.0.0/16");
        assert_eq!(api.revision(), 3);
        let o = api
            .handle(SimTime::ZERO, &mut rng, Request::create(svc("web")))
            .unwrap();
        let o = o.object().unwrap();
        assert_eq!(o.meta().resource_version, "4");
        assert_eq!(o.as_service().unwrap().spec.cluster_ip, "10.96.0.1");
        assert_eq!(
            o.meta().creation_timestamp.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(o.meta().uid.len(), 36);
    }

    #[test]
    fn no_op_update_does_not_bump_the_revision() {
        let (mut api, mut rng) = server("10.96.0.0/16");
        let o = api
            .handle(SimTime::ZERO, &mut rng, Request::create(svc("web")))
            .unwrap();
        let stored = (**o.object().unwrap()).clone();
        let rv = api.revision();
        api.handle(SimTime::ZERO, &mut rng, Request::update(stored))
            .unwrap();
        assert_eq!(api.revision(), rv);
    }

    #[test]
    fn uid_precondition_on_delete() {
        let (mut api, mut rng) = server("10.96.0.0/16");
        api.handle(SimTime::ZERO, &mut rng, Request::create(svc("web")))
            .unwrap();
        let key = ObjectKey::new(Kind::Service, "default", "web");
        let opts = DeleteOptions {
            precondition_uid: Some("nope".into()),
            ..Default::default()
        };
        let err = api
            .handle(
                SimTime::ZERO,
                &mut rng,
                Request::Delete { key, options: opts },
            )
            .unwrap_err();
        assert_eq!(err.reason, StatusReason::Conflict);
        assert!(
            err.message.contains("Precondition failed"),
            "{}",
            err.message
        );
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut doc = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &serde_json::json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, serde_json::json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn uids_are_uuid_shaped_and_distinct() {
        let mut rng = Prng::stream(9, "x");
        let a = new_uid(&mut rng);
        let b = new_uid(&mut rng);
        assert_ne!(a, b);
        assert_eq!(a.as_bytes()[14], b'4');
        assert_eq!(
            a.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
    }
}
