//! Label and annotation keys, and the naming rules of mirror objects (spec §5.1–§5.3).
//!
//! Owns: string constants with the exact keys Linkerd writes, and pure naming helpers.
//! Inputs/outputs: strings. Must not touch: anything stateful.

/// Prefix of every key the service mirror owns; remote labels with it are never copied
/// (prevents re-export loops, spec §5.2).
pub const SVC_MIRROR_PREFIX: &str = "mirror.linkerd.io";
/// `"true"` on every mirror, endpoint-mirror and federated Service (and mirror Endpoints).
pub const LABEL_MIRRORED_SERVICE: &str = "mirror.linkerd.io/mirrored-service";
/// The Link's target cluster name, on mirror (not federated) Services and Endpoints.
pub const LABEL_CLUSTER_NAME: &str = "mirror.linkerd.io/cluster-name";
/// On endpoint mirrors: the name of their headless root mirror.
pub const LABEL_HEADLESS_MIRROR_SVC_NAME: &str = "mirror.linkerd.io/headless-mirror-svc-name";
/// On the chart-managed probe Service.
pub const LABEL_MIRRORED_GATEWAY: &str = "mirror.linkerd.io/mirrored-gateway";
/// On remote-discovery mirrors: the target cluster name.
pub const LABEL_REMOTE_DISCOVERY: &str = "multicluster.linkerd.io/remote-discovery";
/// On remote-discovery mirrors: the remote Service name.
pub const LABEL_REMOTE_SERVICE: &str = "multicluster.linkerd.io/remote-service";
/// Label the Kubernetes endpoints controller puts on the Endpoints of a headless Service.
pub const LABEL_K8S_HEADLESS: &str = "service.kubernetes.io/headless";

pub const ANN_REMOTE_SVC_FQ_NAME: &str = "mirror.linkerd.io/remote-svc-fq-name";
pub const ANN_REMOTE_RESOURCE_VERSION: &str = "mirror.linkerd.io/remote-resource-version";
pub const ANN_REMOTE_GATEWAY_IDENTITY: &str = "mirror.linkerd.io/remote-gateway-identity";
/// Federated Services: comma-separated `svc@cluster` members.
pub const ANN_REMOTE_DISCOVERY: &str = "multicluster.linkerd.io/remote-discovery";
/// Federated Services: the local member's name.
pub const ANN_LOCAL_DISCOVERY: &str = "multicluster.linkerd.io/local-discovery";
pub const ANN_OPAQUE_PORTS: &str = "config.linkerd.io/opaque-ports";
/// Annotations never copied to mirrors (#11223: hints are not multicluster aware).
pub const ANN_TOPOLOGY_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
pub const ANN_TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";

/// Reason of the Kubernetes Event recorded on a remote Service whose mirroring was skipped.
pub const EVENT_REASON_SKIPPED: &str = "ServiceMirroringSkipped";
/// `controllerName` of Link status entries.
pub const STATUS_CONTROLLER_NAME: &str = "linkerd.io/service-mirror";

/// `<svc>-<link>` (also used for endpoint mirrors: `<hostname>-<link>`).
pub fn mirror_name(remote_name: &str, target_cluster: &str) -> String {
    format!("{remote_name}-{target_cluster}")
}

/// `<svc>-federated`.
pub fn federated_name(remote_name: &str) -> String {
    format!("{remote_name}-federated")
}

/// Strips the `-<link>` suffix (Go `strings.TrimSuffix`: unchanged when absent).
pub fn remote_name_of(mirror: &str, target_cluster: &str) -> String {
    let suffix = format!("-{target_cluster}");
    mirror.strip_suffix(&suffix).unwrap_or(mirror).to_string()
}

/// `<svc>@<link>`, one member of a federated Service.
pub fn federated_member(remote_name: &str, target_cluster: &str) -> String {
    format!("{remote_name}@{target_cluster}")
}

/// Whether `key` is excluded by an `excludedLabels`/`excludedAnnotations` list: an exact entry,
/// or an entry ending in `/*` that is a prefix of the key.
pub fn is_excluded(key: &str, excluded: &[String]) -> bool {
    excluded.iter().any(|e| match e.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => key.starts_with(prefix),
        _ => e == key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_linkerd() {
        assert_eq!(mirror_name("web", "east"), "web-east");
        assert_eq!(federated_name("web"), "web-federated");
        assert_eq!(remote_name_of("web-east", "east"), "web");
        assert_eq!(remote_name_of("web-west", "east"), "web-west");
        assert_eq!(federated_member("web", "east"), "web@east");
    }

    #[test]
    fn exclusion_by_key_or_prefix() {
        let ex = vec!["a.io/x".to_string(), "b.io/*".to_string(), "c*".to_string()];
        assert!(is_excluded("a.io/x", &ex));
        assert!(!is_excluded("a.io/y", &ex));
        assert!(is_excluded("b.io/anything", &ex));
        assert!(!is_excluded("b.iox", &ex));
        // `c*` has no `/` before the star: only the literal key matches.
        assert!(is_excluded("c*", &ex));
        assert!(!is_excluded("cat", &ex));
    }
}
