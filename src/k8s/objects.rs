//! Kubernetes object types: our own lean structs with the exact Kubernetes JSON field names, so a
//! dump reads like `kubectl get -o yaml` and ordinary manifests load.
//!
//! Owns: [`ObjectMeta`], one struct per modelled kind, the [`Object`] enum (serialised with
//! `apiVersion` and `kind` first), [`Kind`] (api version, plural, scope), [`ObjectKey`], and the
//! conversion between virtual time and RFC 3339 timestamps (epoch 2026-01-01T00:00:00Z).
//! Inputs/outputs: plain data; no behaviour beyond accessors, defaulting helpers and comparisons.
//! Must not touch: the API server's bookkeeping (uid, resourceVersion and timestamps are *set*
//! only by `apiserver.rs`); no clocks, no randomness, no `HashMap`.

use super::selector::LabelSelector;
use super::shared_list::SharedList;
use crate::sim::SimTime;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// String-to-string map (labels, annotations, selectors, secret data): always ordered.
pub type StringMap = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

// ---------------------------------------------------------------------------------------------
// Virtual time as RFC 3339
// ---------------------------------------------------------------------------------------------

/// Unix seconds of 2026-01-01T00:00:00Z, the wall-clock instant `SimTime::ZERO` is rendered as.
pub const EPOCH_UNIX_SECS: u64 = 1_767_225_600;

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm (public domain), proleptic Gregorian calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Renders a virtual instant as a Kubernetes timestamp (`metav1.Time`: RFC 3339, whole seconds,
/// UTC), counting from 2026-01-01T00:00:00Z.
pub fn rfc3339(t: SimTime) -> String {
    let secs = EPOCH_UNIX_SECS + t.as_nanos() / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses a timestamp written by [`rfc3339`] (or any `YYYY-MM-DDTHH:MM:SS[.frac]Z` UTC stamp)
/// back to virtual time. `None` for malformed text or instants before the epoch.
pub fn parse_rfc3339(text: &str) -> Option<SimTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let y = i64::from(num(text.get(0..4)?)?);
    let mo = num(text.get(5..7)?)?;
    let d = num(text.get(8..10)?)?;
    let h = num(text.get(11..13)?)?;
    let mi = num(text.get(14..16)?)?;
    let s = num(text.get(17..19)?)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let rest = text.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    if zone != "Z" && zone != "z" {
        return None;
    }
    let mut nanos: u64 = 0;
    let mut scale = 100_000_000u64;
    for c in frac.bytes().take(9) {
        nanos += u64::from(c - b'0') * scale;
        scale /= 10;
    }
    let days = days_from_civil(y, mo, d);
    let unix = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    let since = u64::try_from(unix - EPOCH_UNIX_SECS as i64).ok()?;
    Some(SimTime(
        since.checked_mul(1_000_000_000)?.checked_add(nanos)?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Kinds and keys
// ---------------------------------------------------------------------------------------------

/// Every kind the model knows: the modelled kinds, then any other kind the API server stores
/// without modelling it ([`OpaqueKind`]). Ordered (the order of dumps and of `ObjectKey`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Namespace,
    Service,
    Endpoints,
    EndpointSlice,
    Pod,
    StatefulSet,
    Deployment,
    Secret,
    Event,
    Link,
    /// A kind the API server knows (built in, or defined by a CustomResourceDefinition) and
    /// stores with its metadata honoured, but whose content mcsim does not model.
    Opaque(OpaqueKind),
}

/// In a trace digest: the kind's position in the declaration (Namespace 0 ... Link 9); an
/// opaque kind is 10 followed by its group and kind.
impl crate::sim::hash::Digest for Kind {
    fn digest(&self, h: &mut crate::sim::hash::StableHasher) {
        match self {
            Kind::Opaque(o) => {
                h.word(10);
                h.add(o.group());
                h.add(o.kind());
            }
            modelled => h.word(modelled.ordinal()),
        }
    }
}

/// `"Service"`: the `kind` string (what dumps and keys show).
impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Kind {
    /// The modelled kinds.
    pub const ALL: [Kind; 10] = [
        Kind::Namespace,
        Kind::Service,
        Kind::Endpoints,
        Kind::EndpointSlice,
        Kind::Pod,
        Kind::StatefulSet,
        Kind::Deployment,
        Kind::Secret,
        Kind::Event,
        Kind::Link,
    ];

    fn ordinal(self) -> u64 {
        match self {
            Kind::Namespace => 0,
            Kind::Service => 1,
            Kind::Endpoints => 2,
            Kind::EndpointSlice => 3,
            Kind::Pod => 4,
            Kind::StatefulSet => 5,
            Kind::Deployment => 6,
            Kind::Secret => 7,
            Kind::Event => 8,
            Kind::Link => 9,
            Kind::Opaque(_) => 10,
        }
    }

    /// The `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Service => "Service",
            Kind::Endpoints => "Endpoints",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Pod => "Pod",
            Kind::StatefulSet => "StatefulSet",
            Kind::Deployment => "Deployment",
            Kind::Secret => "Secret",
            Kind::Event => "Event",
            Kind::Link => "Link",
            Kind::Opaque(o) => o.kind(),
        }
    }

    /// The `apiVersion` this model serves the kind at (an opaque kind: the version it was
    /// first seen at; each opaque object keeps the version it was written at).
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Namespace
            | Kind::Service
            | Kind::Endpoints
            | Kind::Pod
            | Kind::Secret
            | Kind::Event => "v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            Kind::StatefulSet | Kind::Deployment => "apps/v1",
            Kind::Link => LINK_API_VERSION,
            Kind::Opaque(o) => o.api_version(),
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Opaque(o) => o.group(),
            modelled => api_group(modelled.api_version()),
        }
    }

    /// The qualified resource name used in API error messages (`services`, `statefulsets.apps`).
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Service => "services",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslices.discovery.k8s.io",
            Kind::Pod => "pods",
            Kind::StatefulSet => "statefulsets.apps",
            Kind::Deployment => "deployments.apps",
            Kind::Secret => "secrets",
            Kind::Event => "events",
            Kind::Link => "links.multicluster.linkerd.io",
            Kind::Opaque(o) => o.resource(),
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        match self {
            Kind::Namespace => false,
            Kind::Opaque(o) => o.namespaced(),
            _ => true,
        }
    }

    /// Whether the kind has a `/status` subresource (spec writes keep the stored status and
    /// status writes keep the stored spec).
    pub fn has_status(self) -> bool {
        matches!(
            self,
            Kind::Namespace
                | Kind::Service
                | Kind::Pod
                | Kind::StatefulSet
                | Kind::Deployment
                | Kind::Link
        )
    }

    /// Whether the server maintains `metadata.generation` (bumped on spec changes).
    pub fn has_generation(self) -> bool {
        matches!(self, Kind::StatefulSet | Kind::Deployment | Kind::Link)
    }

    /// Looks a modelled kind up by its `kind` string, requiring the matching `apiVersion` when
    /// given.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        let k = Kind::ALL.into_iter().find(|k| k.as_str() == kind)?;
        (api_version.is_empty() || api_version == k.api_version()).then_some(k)
    }

    /// Whether `self`, used as the kind of a list or watch, covers objects of kind `k`:
    /// [`OpaqueKind::ANY`] covers every opaque kind.
    pub fn covers(self, k: Kind) -> bool {
        match (self, k) {
            (Kind::Opaque(w), Kind::Opaque(_)) if w.is_any() => true,
            (a, b) => a == b,
        }
    }
}

/// The version of the Link CRD that is stored and served to the controllers.
pub const LINK_API_VERSION: &str = "multicluster.linkerd.io/v1alpha3";

/// The group of an `apiVersion` (`"apps/v1"` → `"apps"`, `"v1"` → `""`).
pub fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// A resource type stored without being modelled. Interned: each distinct (group, kind, scope)
/// is allocated once per process and never freed, so the kind is `Copy` like the modelled
/// ones; equality and order compare the contents, so interning order cannot matter.
#[derive(Clone, Copy)]
pub struct OpaqueKind(&'static OpaqueKindInfo);

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OpaqueKindInfo {
    group: String,
    kind: String,
    namespaced: bool,
    /// `<plural>.<group>` (or `<plural>` in the core group).
    resource: String,
    /// The `apiVersion` the kind was first interned with (for owner references to it).
    api_version: String,
}

static OPAQUE_KINDS: std::sync::Mutex<std::collections::BTreeSet<&'static OpaqueKindInfo>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The wildcard: as the kind of a list or watch, every opaque kind.
static ANY_OPAQUE: OpaqueKindInfo = OpaqueKindInfo {
    group: String::new(),
    kind: String::new(),
    namespaced: true,
    resource: String::new(),
    api_version: String::new(),
};

impl OpaqueKind {
    /// The wildcard opaque kind (see [`Kind::covers`]).
    pub const ANY: OpaqueKind = OpaqueKind(&ANY_OPAQUE);

    /// The interned kind `kind` of `api_version`'s group with the given scope and plural.
    pub fn intern(api_version: &str, kind: &str, plural: &str, namespaced: bool) -> OpaqueKind {
        let group = api_group(api_version);
        let probe = OpaqueKindInfo {
            group: group.to_string(),
            kind: kind.to_string(),
            namespaced,
            resource: String::new(),
            api_version: String::new(),
        };
        let mut set = OPAQUE_KINDS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = set.range::<OpaqueKindInfo, _>(&probe..).next().filter(|f| {
            f.group == probe.group && f.kind == probe.kind && f.namespaced == namespaced
        }) {
            return OpaqueKind(found);
        }
        let resource = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        let info: &'static OpaqueKindInfo = Box::leak(Box::new(OpaqueKindInfo {
            resource,
            api_version: api_version.to_string(),
            ..probe
        }));
        set.insert(info);
        OpaqueKind(info)
    }

    pub fn group(self) -> &'static str {
        &self.0.group
    }
    pub fn kind(self) -> &'static str {
        &self.0.kind
    }
    pub fn namespaced(self) -> bool {
        self.0.namespaced
    }
    pub fn resource(self) -> &'static str {
        &self.0.resource
    }
    pub fn api_version(self) -> &'static str {
        &self.0.api_version
    }
    pub fn is_any(self) -> bool {
        self.0.kind.is_empty()
    }
    fn identity(self) -> (&'static str, &'static str, bool) {
        (&self.0.group, &self.0.kind, self.0.namespaced)
    }
}

impl PartialEq for OpaqueKind {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}
impl Eq for OpaqueKind {}
impl PartialOrd for OpaqueKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OpaqueKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}
impl std::hash::Hash for OpaqueKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}
impl fmt::Debug for OpaqueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.resource)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a stored object: ordered by kind, then namespace (empty for cluster-scoped kinds),
/// then name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: Kind, namespace: &str, name: &str) -> ObjectKey {
        let namespace = if kind.namespaced() {
            namespace.to_string()
        } else {
            String::new()
        };
        ObjectKey {
            kind,
            namespace,
            name: name.to_string(),
        }
    }
}

/// `Service default/web`, `Namespace prod`.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

impl OwnerReference {
    /// The controller reference to `owner` (`controller: true`, `blockOwnerDeletion: true`), as
    /// controllers set it on objects they create.
    pub fn controller_ref(owner: &Object) -> OwnerReference {
        OwnerReference {
            api_version: owner.api_version().to_string(),
            kind: owner.kind().as_str().to_string(),
            name: owner.meta().name.clone(),
            uid: owner.meta().uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generate_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Opaque on the wire; this model renders its per-cluster revision counter in decimal.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: StringMap,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: StringMap,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

impl ObjectMeta {
    /// Metadata with a namespace and a name and nothing else.
    pub fn named(namespace: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: namespace.to_string(),
            name: name.to_string(),
            ..ObjectMeta::default()
        }
    }
    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp.is_some()
    }
    /// The single owner reference with `controller: true`, if any.
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
    }
    pub fn with_labels<'a>(mut self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        for (k, v) in labels {
            self.labels.insert(k.to_string(), v.to_string());
        }
        self
    }
}

/// A reference to another object (`involvedObject`, `targetRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
}

impl ObjectReference {
    pub fn to(obj: &Object) -> ObjectReference {
        let m = obj.meta();
        ObjectReference {
            api_version: String::new(),
            kind: obj.kind().as_str().to_string(),
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            uid: m.uid.clone(),
            resource_version: String::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared small types
// ---------------------------------------------------------------------------------------------

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// `targetPort`: a number or a container port name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

// ---------------------------------------------------------------------------------------------
// Namespace
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespacePhase {
    #[default]
    Active,
    Terminating,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<NamespacePhase>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "is_default")]
    pub spec: NamespaceSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: NamespaceStatus,
}

impl Namespace {
    pub fn new(name: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta::named("", name),
            ..Namespace::default()
        }
    }
    pub fn phase(&self) -> NamespacePhase {
        self.status.phase.unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    pub port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,
}

impl ServicePort {
    pub fn tcp(name: &str, port: i32) -> ServicePort {
        ServicePort {
            name: name.to_string(),
            port,
            ..ServicePort::default()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "type", default)]
    pub type_: ServiceType,
    /// `""` = allocate on create, `"None"` = headless, else a static request.
    #[serde(
        rename = "clusterIP",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub cluster_ip: String,
    #[serde(rename = "clusterIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Empty = no selector: the Service's owner writes its Endpoints (every Linkerd mirror).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: StringMap,
    #[serde(default, skip_serializing_if = "is_false")]
    pub publish_not_ready_addresses: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerIngress {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<LoadBalancerIngress>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    #[serde(default, skip_serializing_if = "is_default")]
    pub load_balancer: LoadBalancerStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ServiceSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: ServiceStatus,
}

/// The `clusterIP` value of a headless Service.
pub const CLUSTER_IP_NONE: &str = "None";

impl Service {
    pub fn new(namespace: &str, name: &str) -> Service {
        Service {
            metadata: ObjectMeta::named(namespace, name),
            ..Service::default()
        }
    }
    pub fn is_headless(&self) -> bool {
        self.spec.cluster_ip == CLUSTER_IP_NONE
    }
    pub fn has_selector(&self) -> bool {
        !self.spec.selector.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoints (core/v1)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    pub ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

impl EndpointAddress {
    pub fn ip(ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.to_string(),
            ..EndpointAddress::default()
        }
    }
}

/// A port of an Endpoints subset or of an EndpointSlice.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub port: i32,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<EndpointSubset>,
}

impl Endpoints {
    pub fn new(namespace: &str, name: &str) -> Endpoints {
        Endpoints {
            metadata: ObjectMeta::named(namespace, name),
            subsets: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// EndpointSlice (discovery.k8s.io/v1)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddressType {
    #[default]
    IPv4,
    IPv6,
    #[serde(rename = "FQDN")]
    Fqdn,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub conditions: EndpointConditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

impl Endpoint {
    /// The API says a nil `ready` must be read as ready.
    pub fn is_ready(&self) -> bool {
        self.conditions.ready.unwrap_or(true)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub address_type: AddressType,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

/// Label linking an EndpointSlice to its Service.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the writer of an EndpointSlice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

// ---------------------------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub container_port: i32,
    #[serde(default)]
    pub protocol: Protocol,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subdomain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_name: String,
    /// The pod uses the node's network: its IP is the node's, not one of the pod network's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    #[serde(default)]
    pub containers: Vec<Container>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `"True"`, `"False"` or `"Unknown"`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PodPhase>,
    #[serde(rename = "podIP", default, skip_serializing_if = "String::is_empty")]
    pub pod_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<PodCondition>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: PodStatus,
}

impl Pod {
    /// `status.conditions[type=Ready].status == "True"`.
    pub fn is_ready(&self) -> bool {
        self.status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    }
    pub fn phase(&self) -> PodPhase {
        self.status.phase.unwrap_or_default()
    }
    /// Succeeded or Failed: never comes back.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase(), PodPhase::Succeeded | PodPhase::Failed)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

// ---------------------------------------------------------------------------------------------
// StatefulSet and Deployment (apps/v1)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodManagementPolicy {
    #[default]
    OrderedReady,
    Parallel,
}

fn one() -> i32 {
    1
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    #[serde(default = "one")]
    pub replicas: i32,
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplateSpec,
    #[serde(default)]
    pub pod_management_policy: PodManagementPolicy,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub observed_generation: i64,
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub ready_replicas: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSet {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: StatefulSetSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: WorkloadStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    #[serde(default = "one")]
    pub replicas: i32,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplateSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: DeploymentSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: WorkloadStatus,
}

// ---------------------------------------------------------------------------------------------
// Secret, Event
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// Base64-encoded values, as on the wire.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: StringMap,
    /// Write-only plain values; the API server folds them into `data` (base64) on every write.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: StringMap,
}

impl Secret {
    /// The decoded value of `data[key]` (`None` if absent or not valid base64).
    pub fn decoded(&self, key: &str) -> Option<Vec<u8>> {
        self.data.get(key).and_then(|v| base64_decode(v))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub component: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub involved_object: ObjectReference,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub source: EventSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Link (multicluster.linkerd.io/v1alpha3)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub port: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub period: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_threshold: String,
}

/// Spec of a Link (linkerd-multicluster spec §2.1). Every scalar is a string, as in the CRD.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_cluster_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_cluster_domain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_cluster_linkerd_namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_credentials_secret: String,
    /// Comma-separated IPs or DNS names.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway_address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway_port: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway_identity: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub probe_spec: ProbeSpec,
    /// Gateway-mode export selector. `None` or empty matches nothing (Linkerd's rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_discovery_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_service_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_annotations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_labels: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedRef {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Always written, empty or not: the Go type has no `omitempty` and the CRD requires it.
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_ref: Option<TypedRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkServiceStatus {
    #[serde(default)]
    pub controller_name: String,
    #[serde(default)]
    pub remote_ref: TypedRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<LinkCondition>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    /// One entry per mirrored Service: shared between the Link's versions (written once per
    /// mirrored Service, so a deep copy per write would make mirroring quadratic).
    #[serde(default, skip_serializing_if = "SharedList::is_empty")]
    pub mirror_services: SharedList<LinkServiceStatus>,
    #[serde(default, skip_serializing_if = "SharedList::is_empty")]
    pub federated_services: SharedList<LinkServiceStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: LinkSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: LinkStatus,
}

fn selector_eq(key: &str, value: &str) -> Option<LabelSelector> {
    let mut s = LabelSelector::default();
    s.match_labels.insert(key.to_string(), value.to_string());
    Some(s)
}

impl Link {
    /// Applies the defaults the CRD schema gives (`probeSpec.timeout: 30s`,
    /// `probeSpec.failureThreshold: "3"`). The API server applies these on every write.
    pub fn apply_crd_defaults(&mut self) {
        let p = &mut self.spec.probe_spec;
        if p.timeout.is_empty() {
            p.timeout = "30s".to_string();
        }
        if p.failure_threshold.is_empty() {
            p.failure_threshold = "3".to_string();
        }
    }

    /// The Link as `linkerd multicluster link-gen` with default flags and chart values would
    /// write it, for every field left empty: CRD defaults, domain `cluster.local`, control plane
    /// namespace `linkerd`, credentials secret `cluster-credentials-<targetClusterName>`, the
    /// remote-discovery and federated selectors; and, only when the gateway is enabled
    /// (`gatewayAddress` set), gateway port 4143, probe `/ready` on 4191 every `3s` and the
    /// export selector `mirror.linkerd.io/exported=true`. An explicit empty selector (`{}`) is
    /// kept: it matches nothing.
    pub fn with_defaults(mut self) -> Link {
        self.apply_crd_defaults();
        let s = &mut self.spec;
        let fill = |field: &mut String, value: &str| {
            if field.is_empty() {
                *field = value.to_string();
            }
        };
        fill(
            &mut s.target_cluster_domain,
            crate::defaults::CLUSTER_DOMAIN,
        );
        fill(&mut s.target_cluster_linkerd_namespace, "linkerd");
        if s.cluster_credentials_secret.is_empty() && !s.target_cluster_name.is_empty() {
            s.cluster_credentials_secret = format!("cluster-credentials-{}", s.target_cluster_name);
        }
        if !s.gateway_address.is_empty() {
            fill(&mut s.gateway_port, "4143");
            fill(&mut s.probe_spec.path, crate::defaults::PROBE_PATH);
            fill(&mut s.probe_spec.port, "4191");
            fill(&mut s.probe_spec.period, "3s");
            if s.selector.is_none() {
                s.selector = selector_eq("mirror.linkerd.io/exported", "true");
            }
        }
        if s.remote_discovery_selector.is_none() {
            s.remote_discovery_selector =
                selector_eq("mirror.linkerd.io/exported", "remote-discovery");
        }
        if s.federated_service_selector.is_none() {
            s.federated_service_selector = selector_eq("mirror.linkerd.io/federated", "member");
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Opaque objects (kinds stored but not modelled)
// ---------------------------------------------------------------------------------------------

/// An object of a kind the API server stores but mcsim does not model (ServiceAccount,
/// ConfigMap, Role, a custom resource, ...): its metadata is honoured like any object's
/// (namespace, labels, owner references, finalizers, garbage collection); everything else is
/// kept as written and shown in dumps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaqueObject {
    pub kind: OpaqueKind,
    /// The `apiVersion` the object was written at.
    pub api_version: String,
    pub metadata: ObjectMeta,
    /// Every other top-level field (`spec`, `data`, `rules`, `subjects`, ...).
    pub content: serde_json::Map<String, serde_json::Value>,
}

impl OpaqueObject {
    /// Builds the object from its JSON (`apiVersion`, `kind`, `metadata` and the rest).
    pub fn from_value(kind: OpaqueKind, value: serde_json::Value) -> Result<OpaqueObject, String> {
        let serde_json::Value::Object(mut map) = value else {
            return Err("expected a mapping".to_string());
        };
        let api_version = match map.remove("apiVersion") {
            Some(serde_json::Value::String(v)) => v,
            _ => kind.api_version().to_string(),
        };
        map.remove("kind");
        let metadata = match map.remove("metadata") {
            None | Some(serde_json::Value::Null) => ObjectMeta::default(),
            Some(m) => serde_path_to_error::deserialize(m).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    format!("metadata: {}", e.inner())
                } else {
                    format!("metadata.{path}: {}", e.inner())
                }
            })?,
        };
        Ok(OpaqueObject {
            kind,
            api_version,
            metadata,
            content: map,
        })
    }
}

impl Serialize for OpaqueObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.content.len() + 3))?;
        m.serialize_entry("apiVersion", &self.api_version)?;
        m.serialize_entry("kind", self.kind.kind())?;
        m.serialize_entry("metadata", &self.metadata)?;
        for (k, v) in &self.content {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Object
// ---------------------------------------------------------------------------------------------

/// Any stored object. Serialised as the Kubernetes JSON with `apiVersion` and `kind` first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    Namespace(Namespace),
    Service(Service),
    Endpoints(Endpoints),
    EndpointSlice(EndpointSlice),
    Pod(Pod),
    StatefulSet(StatefulSet),
    Deployment(Deployment),
    Secret(Secret),
    Event(Event),
    Link(Link),
    Opaque(OpaqueObject),
}

macro_rules! each_kind {
    ($obj:expr, $x:ident => $body:expr) => {
        match $obj {
            Object::Namespace($x) => $body,
            Object::Service($x) => $body,
            Object::Endpoints($x) => $body,
            Object::EndpointSlice($x) => $body,
            Object::Pod($x) => $body,
            Object::StatefulSet($x) => $body,
            Object::Deployment($x) => $body,
            Object::Secret($x) => $body,
            Object::Event($x) => $body,
            Object::Link($x) => $body,
            Object::Opaque($x) => $body,
        }
    };
}

macro_rules! accessors {
    ($($variant:ident, $ty:ty, $as_ref:ident, $as_mut:ident;)*) => {
        impl Object {
            $(
                pub fn $as_ref(&self) -> Option<&$ty> {
                    match self { Object::$variant(x) => Some(x), _ => None }
                }
                pub fn $as_mut(&mut self) -> Option<&mut $ty> {
                    match self { Object::$variant(x) => Some(x), _ => None }
                }
            )*
        }
        $(
            impl From<$ty> for Object {
                fn from(x: $ty) -> Object { Object::$variant(x) }
            }
        )*
    };
}

accessors! {
    Namespace, Namespace, as_namespace, as_namespace_mut;
    Service, Service, as_service, as_service_mut;
    Endpoints, Endpoints, as_endpoints, as_endpoints_mut;
    EndpointSlice, EndpointSlice, as_endpoint_slice, as_endpoint_slice_mut;
    Pod, Pod, as_pod, as_pod_mut;
    StatefulSet, StatefulSet, as_stateful_set, as_stateful_set_mut;
    Deployment, Deployment, as_deployment, as_deployment_mut;
    Secret, Secret, as_secret, as_secret_mut;
    Event, Event, as_event, as_event_mut;
    Link, Link, as_link, as_link_mut;
    Opaque, OpaqueObject, as_opaque, as_opaque_mut;
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::Service(_) => Kind::Service,
            Object::Endpoints(_) => Kind::Endpoints,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Pod(_) => Kind::Pod,
            Object::StatefulSet(_) => Kind::StatefulSet,
            Object::Deployment(_) => Kind::Deployment,
            Object::Secret(_) => Kind::Secret,
            Object::Event(_) => Kind::Event,
            Object::Link(_) => Kind::Link,
            Object::Opaque(o) => Kind::Opaque(o.kind),
        }
    }
    /// The `apiVersion` the object is served at (an opaque object: the one it was written at).
    pub fn api_version(&self) -> &str {
        match self {
            Object::Opaque(o) => &o.api_version,
            other => other.kind().api_version(),
        }
    }
    pub fn meta(&self) -> &ObjectMeta {
        each_kind!(self, x => &x.metadata)
    }
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_kind!(self, x => &mut x.metadata)
    }
    pub fn key(&self) -> ObjectKey {
        let m = self.meta();
        ObjectKey::new(self.kind(), &m.namespace, &m.name)
    }
    pub fn name(&self) -> &str {
        &self.meta().name
    }
    pub fn namespace(&self) -> &str {
        &self.meta().namespace
    }
    pub fn labels(&self) -> &StringMap {
        &self.meta().labels
    }

    /// Whether the two objects have the same spec (everything but metadata and status; for
    /// kinds without a status subresource, everything but metadata).
    pub fn spec_eq(&self, other: &Object) -> bool {
        match (self, other) {
            (Object::Namespace(a), Object::Namespace(b)) => a.spec == b.spec,
            (Object::Service(a), Object::Service(b)) => a.spec == b.spec,
            (Object::Endpoints(a), Object::Endpoints(b)) => a.subsets == b.subsets,
            (Object::EndpointSlice(a), Object::EndpointSlice(b)) => {
                a.address_type == b.address_type && a.endpoints == b.endpoints && a.ports == b.ports
            }
            (Object::Pod(a), Object::Pod(b)) => a.spec == b.spec,
            (Object::StatefulSet(a), Object::StatefulSet(b)) => a.spec == b.spec,
            (Object::Deployment(a), Object::Deployment(b)) => a.spec == b.spec,
            (Object::Secret(a), Object::Secret(b)) => {
                a.type_ == b.type_ && a.data == b.data && a.string_data == b.string_data
            }
            (Object::Event(a), Object::Event(b)) => {
                let mut a = a.clone();
                a.metadata = b.metadata.clone();
                &a == b
            }
            (Object::Link(a), Object::Link(b)) => a.spec == b.spec,
            (Object::Opaque(a), Object::Opaque(b)) => {
                a.kind == b.kind && a.api_version == b.api_version && a.content == b.content
            }
            _ => false,
        }
    }

    /// Equal but for server-managed metadata (resourceVersion, generation, timestamps, uid):
    /// typed field by field (every field is named, so a new field is a compile error here), which
    /// is what comparing the two JSON documents without those fields decides, without building them.
    pub fn content_eq(&self, other: &Object) -> bool {
        let (a, b) = (self, other);
        fn meta_eq(a: &ObjectMeta, b: &ObjectMeta) -> bool {
            let ObjectMeta {
                name,
                generate_name,
                namespace,
                uid: _,
                resource_version: _,
                generation: _,
                creation_timestamp: _,
                deletion_timestamp,
                deletion_grace_period_seconds,
                labels,
                annotations,
                owner_references,
                finalizers,
            } = a;
            *name == b.name
                && *generate_name == b.generate_name
                && *namespace == b.namespace
                && *deletion_timestamp == b.deletion_timestamp
                && *deletion_grace_period_seconds == b.deletion_grace_period_seconds
                && *labels == b.labels
                && *annotations == b.annotations
                && *owner_references == b.owner_references
                && *finalizers == b.finalizers
        }
        meta_eq(a.meta(), b.meta())
            && match (a, b) {
                (Object::Namespace(x), Object::Namespace(y)) => {
                    let Namespace {
                        metadata: _,
                        spec,
                        status,
                    } = x;
                    *spec == y.spec && *status == y.status
                }
                (Object::Service(x), Object::Service(y)) => {
                    let Service {
                        metadata: _,
                        spec,
                        status,
                    } = x;
                    *spec == y.spec && *status == y.status
                }
                (Object::Endpoints(x), Object::Endpoints(y)) => {
                    let Endpoints {
                        metadata: _,
                        subsets,
                    } = x;
                    *subsets == y.subsets
                }
                (Object::EndpointSlice(x), Object::EndpointSlice(y)) => {
                    let EndpointSlice {
                        metadata: _,
                        address_type,
                        endpoints,
                        ports,
                    } = x;
                    *address_type == y.address_type
                        && *endpoints == y.endpoints
                        && *ports == y.ports
                }
                (Object::Pod(x), Object::Pod(y)) => {
                    let Pod {
                        metadata: _,
                        spec,
                        status,
                    } = x;
                    *spec == y.spec && *status == y.status
                }
                (Object::StatefulSet(x), Object::StatefulSet(y)) => {
                    let StatefulSet {
                        metadata: _,
                        spec,
                        status,
                    } = x;
                    *spec == y.spec && *status == y.status
                }
                (Object::Deployment(x), Object::Deployment(y)) => {
                    let Deployment {
                        metadata: _,
                        spec,
                        status,
                    } = x;
                    *spec == y.spec && *status == y.status
                }
                (Object::Secret(x), Object::Secret(y)) => {
                    let Secret {
                        metadata: _,
                        type_,
                        data,
                        string_data,
                    } = x;
                    *type_ == y.type_ && *data == y.data && *string_data == y.string_data
                }
                (Object::Event(x), Object::Event(y)) => {
                    let Event {
                        metadata: _,
                        involved_object,
                        reason,
                        message,
                        type_,
                        source,
                        count,
                        first_timestamp,
                        last_timestamp,
                    } = x;
                    *involved_object == y.involved_object
                        && *reason == y.reason
                        && *message == y.message
                        && *type_ == y.type_
                        && *source == y.source
                        && *count == y.count
                        && *first_timestamp == y.first_timestamp
                        && *last_timestamp == y.last_timestamp
                }
                (Object::Link(x), Object::Link(y)) => {
                    let Link {
                        metadata: _,
                        spec,
                        status,
                    } = x;
                    *spec == y.spec && *status == y.status
                }
                _ => false,
            }
    }

    /// Copies `from`'s status into `self` (same kind; no-op for kinds without status).
    pub fn set_status_from(&mut self, from: &Object) {
        match (self, from) {
            (Object::Namespace(a), Object::Namespace(b)) => a.status = b.status.clone(),
            (Object::Service(a), Object::Service(b)) => a.status = b.status.clone(),
            (Object::Pod(a), Object::Pod(b)) => a.status = b.status.clone(),
            (Object::StatefulSet(a), Object::StatefulSet(b)) => a.status = b.status.clone(),
            (Object::Deployment(a), Object::Deployment(b)) => a.status = b.status.clone(),
            (Object::Link(a), Object::Link(b)) => a.status = b.status.clone(),
            _ => {}
        }
    }

    /// Whether the two objects have the same status (always true for kinds without one).
    pub fn status_eq(&self, other: &Object) -> bool {
        match (self, other) {
            (Object::Namespace(a), Object::Namespace(b)) => a.status == b.status,
            (Object::Service(a), Object::Service(b)) => a.status == b.status,
            (Object::Pod(a), Object::Pod(b)) => a.status == b.status,
            (Object::StatefulSet(a), Object::StatefulSet(b)) => a.status == b.status,
            (Object::Deployment(a), Object::Deployment(b)) => a.status == b.status,
            (Object::Link(a), Object::Link(b)) => a.status == b.status,
            _ => true,
        }
    }

    /// Builds an object from a JSON value holding `apiVersion`, `kind` and the body, resolving
    /// the kind against the built-in kinds only (see [`Object::from_json_value_in`]). Errors
    /// name the failing field path.
    pub fn from_json_value(value: serde_json::Value) -> Result<Object, String> {
        Object::from_json_value_in(value, &super::discovery::Discovery::new())
    }

    /// [`Object::from_json_value`] with the kinds `discovery` knows (CRD-defined ones too): a
    /// modelled kind becomes its typed object (a Link at any served version is converted to
    /// the stored version, as the CRD's `None` conversion does: same fields, new
    /// `apiVersion`), any other known kind an [`OpaqueObject`]. Fields the typed objects do
    /// not model are dropped (call [`super::field_validation::validate`] first to refuse unknown
    /// ones).
    pub fn from_json_value_in(
        value: serde_json::Value,
        discovery: &super::discovery::Discovery,
    ) -> Result<Object, String> {
        let kind_str = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let api_version = value
            .get("apiVersion")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        if kind_str.is_empty() {
            return Err("missing field `kind`".to_string());
        }
        if api_version.is_empty() {
            return Err("missing field `apiVersion`".to_string());
        }
        let kind = discovery.resolve(&api_version, &kind_str)?;
        fn typed<T: for<'de> Deserialize<'de>>(value: serde_json::Value) -> Result<T, String> {
            // Fast path without path tracking; on an error, again with it for the message.
            if let Ok(t) = T::deserialize(&value) {
                return Ok(t);
            }
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    e.inner().to_string()
                } else {
                    format!("{path}: {}", e.inner())
                }
            })
        }
        Ok(match kind {
            Kind::Namespace => Object::Namespace(typed(value)?),
            Kind::Service => Object::Service(typed(value)?),
            Kind::Endpoints => Object::Endpoints(typed(value)?),
            Kind::EndpointSlice => Object::EndpointSlice(typed(value)?),
            Kind::Pod => Object::Pod(typed(value)?),
            Kind::StatefulSet => Object::StatefulSet(typed(value)?),
            Kind::Deployment => Object::Deployment(typed(value)?),
            Kind::Secret => Object::Secret(typed(value)?),
            Kind::Event => Object::Event(typed(value)?),
            Kind::Link => Object::Link(typed(value)?),
            Kind::Opaque(o) => Object::Opaque(OpaqueObject::from_value(o, value)?),
        })
    }
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let kind = self.kind();
        match self {
            Object::Opaque(o) => o.serialize(s),
            Object::Namespace(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Service(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Endpoints(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::EndpointSlice(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Pod(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::StatefulSet(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Deployment(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Secret(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Event(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
            Object::Link(x) => Tagged {
                api_version: kind.api_version(),
                kind: kind.as_str(),
                inner: x,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Object::from_json_value(value).map_err(D::Error::custom)
    }
}

/// Shared, immutable object as stored, cached and fanned out to watchers.
pub type ObjectRef = Arc<Object>;

// ---------------------------------------------------------------------------------------------
// base64 (Secret data), standard alphabet with padding
// ---------------------------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(t.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in t.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_from_the_2026_epoch() {
        assert_eq!(rfc3339(SimTime::ZERO), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(SimTime(61_500_000_000)), "2026-01-01T00:01:01Z");
        // 59 days later crosses February (2026 is not a leap year).
        assert_eq!(
            rfc3339(SimTime(59 * 86_400 * 1_000_000_000)),
            "2026-03-01T00:00:00Z"
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T00:01:01Z"),
            Some(SimTime(61_000_000_000))
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:01.5Z"),
            Some(SimTime(1_500_000_000))
        );
        assert_eq!(parse_rfc3339("2025-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        for s in [0u64, 1, 86_399, 86_400, 31_536_000, 400 * 86_400] {
            let t = SimTime(s * 1_000_000_000);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
    }

    #[test]
    fn object_serialises_with_api_version_and_kind_first() {
        let mut svc = Service::new("default", "web");
        svc.spec.cluster_ip = "None".into();
        svc.spec.ports.push(ServicePort::tcp("http", 80));
        let json = serde_json::to_string(&Object::Service(svc.clone())).unwrap();
        assert!(
            json.starts_with(r#"{"apiVersion":"v1","kind":"Service","metadata":"#),
            "{json}"
        );
        assert!(json.contains(r#""clusterIP":"None""#), "{json}");
        let back: Object = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Object::Service(svc));
    }

    #[test]
    fn wrong_api_version_and_bad_fields_are_errors_with_paths() {
        let v = serde_json::json!({"apiVersion": "apps/v1", "kind": "Service", "metadata": {"name": "x"}});
        assert!(
            Object::from_json_value(v)
                .unwrap_err()
                .contains("no matches for kind \"Service\" in version \"apps/v1\"")
        );
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Service",
            "spec": {"ports": [{"port": "eighty"}]}});
        let err = Object::from_json_value(v).unwrap_err();
        assert!(err.starts_with("spec.ports[0].port"), "{err}");
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Gadget"});
        assert!(Object::from_json_value(v).is_err());
    }

    #[test]
    fn target_port_is_int_or_string() {
        let p: ServicePort = serde_json::from_str(r#"{"port":80,"targetPort":"http"}"#).unwrap();
        assert_eq!(p.target_port, Some(IntOrString::String("http".into())));
        let p: ServicePort = serde_json::from_str(r#"{"port":80,"targetPort":8080}"#).unwrap();
        assert_eq!(p.target_port, Some(IntOrString::Int(8080)));
    }

    #[test]
    fn link_defaults_follow_link_gen() {
        let mut link = Link::default();
        link.spec.target_cluster_name = "east".into();
        link.spec.gateway_address = "1.2.3.4".into();
        let l = link.with_defaults();
        assert_eq!(
            l.spec.cluster_credentials_secret,
            "cluster-credentials-east"
        );
        assert_eq!(l.spec.gateway_port, "4143");
        assert_eq!(l.spec.probe_spec.timeout, "30s");
        assert_eq!(l.spec.probe_spec.failure_threshold, "3");
        assert_eq!(l.spec.probe_spec.path, "/ready");
        assert!(l.spec.selector.is_some());
        // Gateway disabled: no probe path (no probe worker), no export selector.
        let mut link = Link::default();
        link.spec.target_cluster_name = "east".into();
        let l = link.with_defaults();
        assert!(l.spec.probe_spec.path.is_empty());
        assert!(l.spec.selector.is_none());
        assert!(l.spec.remote_discovery_selector.is_some());
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "kubeconfig: x\n"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(base64_encode(b"abc"), "YWJj");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_decode("!!"), None);
    }
}
