//! A deterministic generator of cluster snapshots shaped like real `kubectl get namespaces,
//! services,endpoints,endpointslices,statefulsets,deployments,pods,secrets -A -o yaml` output of
//! a meshed kind cluster: server-managed fields (`uid`, `resourceVersion`, `creationTimestamp`,
//! `generation`, `managedFields`), status, the API server's own `kubernetes` Service, kube-dns
//! with CoreDNS, a kube-proxy pod on the host network (owned by a DaemonSet the snapshot does not
//! hold), pods owned by ReplicaSets (likewise), a StatefulSet behind a headless Service, the
//! Linkerd multicluster gateway and a mirror Service left by an earlier link.
//!
//! For tests, benchmarks and the README's walkthrough (`tests/manifests/snapshot-*.yaml` are its
//! output); not used by a simulation.

use std::fmt::Write;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SampleSnapshot<'a> {
    /// Cluster name (node names, images).
    pub cluster: &'a str,
    /// Application Services, each with a Deployment of 1 or 2 pods.
    pub services: usize,
    /// Spread over this many namespaces `team-<i>`.
    pub namespaces: usize,
    /// Every `export_every`-th Service carries `mirror.linkerd.io/exported: "true"` (0: none).
    pub export_every: usize,
    /// The pod network's first two octets, e.g. `[10, 244]`.
    pub pod_net: [u8; 2],
    /// A mirror Service of an earlier link to this cluster named `<service>-<linked>` is included.
    pub linked: &'a str,
}

const TIME: &str = "2024-05-14T09:12:31Z";

struct Gen {
    out: String,
    next_uid: u64,
    next_rv: u64,
    salt: u64,
}

impl Gen {
    fn uid(&mut self) -> String {
        self.next_uid += 1;
        let x = self
            .next_uid
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(self.salt);
        let y = x.rotate_left(29) ^ 0xA5A5_5A5A_C3C3_3C3C;
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            x >> 32,
            (x >> 16) & 0xffff,
            x & 0xfff,
            y & 0xfff,
            y >> 16
        )
    }
    fn rv(&mut self) -> u64 {
        self.next_rv += 7;
        self.next_rv
    }
    fn suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut x = self.next_uid.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ self.salt;
        self.next_uid += 1;
        (0..len)
            .map(|_| {
                let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
                x /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }
    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }
    /// `metadata` (indented by 4) with the server's fields.
    fn meta(
        &mut self,
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        manager: &str,
    ) -> String {
        self.meta_with(namespace, name, labels, manager, "", "")
    }

    /// [`Gen::meta`] with `pre` (`generateName`, `generation`) and `owners` (`ownerReferences`)
    /// lines in their sorted places.
    fn meta_with(
        &mut self,
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        manager: &str,
        pre: &str,
        owners: &str,
    ) -> String {
        let uid = self.uid();
        let rv = self.rv();
        let mut m = String::new();
        let _ = writeln!(m, "    creationTimestamp: \"{TIME}\"");
        m.push_str(pre);
        if !labels.is_empty() {
            let _ = writeln!(m, "    labels:");
            for (k, v) in labels {
                let _ = writeln!(m, "      {k}: {}", quote(v));
            }
        }
        let _ = writeln!(m, "    managedFields:");
        let _ = writeln!(m, "    - apiVersion: v1");
        let _ = writeln!(m, "      fieldsType: FieldsV1");
        let _ = writeln!(m, "      fieldsV1:");
        let _ = writeln!(m, "        f:metadata:");
        let _ = writeln!(m, "          f:labels:");
        let _ = writeln!(m, "            .: {{}}");
        let _ = writeln!(m, "      manager: {manager}");
        let _ = writeln!(m, "      operation: Update");
        let _ = writeln!(m, "      time: \"{TIME}\"");
        let _ = writeln!(m, "    name: {name}");
        if !namespace.is_empty() {
            let _ = writeln!(m, "    namespace: {namespace}");
        }
        m.push_str(owners);
        let _ = writeln!(m, "    resourceVersion: \"{rv}\"");
        let _ = write!(m, "    uid: {uid}");
        m
    }
}

fn quote(v: &str) -> String {
    if v.is_empty()
        || v.parse::<f64>().is_ok()
        || matches!(v, "true" | "false" | "null" | "yes" | "no")
    {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

/// A pod: (name, ip, uid).
struct PodInfo {
    name: String,
    ip: String,
    uid: String,
}

impl SampleSnapshot<'_> {
    /// The snapshot as YAML.
    pub fn yaml(&self) -> String {
        let mut g = Gen {
            out: String::new(),
            next_uid: 0,
            next_rv: 1000,
            salt: self
                .cluster
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
        };
        g.line("apiVersion: v1");
        g.line("items:");
        let mut namespaces: Vec<String> =
            ["default", "kube-system", "linkerd", "linkerd-multicluster"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        namespaces.extend((0..self.namespaces).map(|i| format!("team-{i}")));
        for ns in &namespaces {
            self.namespace(&mut g, ns);
        }
        let mut next_ip = 2u32;
        let mut pod_ip = || {
            next_ip += 1;
            format!(
                "{}.{}.{}.{}",
                self.pod_net[0],
                self.pod_net[1],
                next_ip / 250,
                next_ip % 250 + 2
            )
        };
        // The API server's own Service and its Endpoints (no selector).
        let node = format!("{}-control-plane", self.cluster);
        g.line("- apiVersion: v1\n  kind: Service\n  metadata:");
        let m = g.meta(
            "default",
            "kubernetes",
            &[("component", "apiserver"), ("provider", "kubernetes")],
            "kube-apiserver",
        );
        g.line(&m);
        g.line("  spec:\n    clusterIP: 10.96.0.1\n    clusterIPs:\n    - 10.96.0.1\n    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: https\n      port: 443\n      protocol: TCP\n      targetPort: 6443\n    sessionAffinity: None\n    type: ClusterIP\n  status:\n    loadBalancer: {}");
        g.line("- apiVersion: v1\n  kind: Endpoints\n  metadata:");
        let m = g.meta(
            "default",
            "kubernetes",
            &[("endpointslice.kubernetes.io/skip-mirror", "true")],
            "kube-apiserver",
        );
        g.line(&m);
        g.line("  subsets:\n  - addresses:\n    - ip: 172.18.0.2\n    ports:\n    - name: https\n      port: 6443\n      protocol: TCP");
        // kube-proxy: host network, owned by a DaemonSet not in the snapshot.
        let ds_uid = g.uid();
        let proxy = format!("kube-proxy-{}", g.suffix(5));
        self.pod(
            &mut g,
            "kube-system",
            &proxy,
            &[("k8s-app", "kube-proxy")],
            "",
            ("DaemonSet", "kube-proxy", &ds_uid),
            "172.18.0.2",
            &node,
            true,
            "kube-proxy",
            0,
        );
        // CoreDNS behind kube-dns.
        let mut services: Vec<(String, String, String, usize, bool, &str)> = vec![(
            "kube-system".into(),
            "kube-dns".into(),
            "10.96.0.10".into(),
            2,
            false,
            "coredns",
        )];
        for i in 0..self.services {
            let ns = format!("team-{}", i % self.namespaces.max(1));
            let exported = self.export_every > 0 && i % self.export_every == 0;
            let ip = format!("10.96.{}.{}", 1 + i / 250, i % 250 + 2);
            services.push((ns, format!("svc-{i:03}"), ip, 1 + i % 2, exported, "app"));
        }
        for (ns, name, ip, replicas, exported, container) in &services {
            let app_key = if *container == "coredns" {
                "k8s-app"
            } else {
                "app"
            };
            let app = if *container == "coredns" {
                "kube-dns"
            } else {
                name.as_str()
            };
            let deployment = if *container == "coredns" {
                "coredns"
            } else {
                name.as_str()
            };
            let port = if *container == "coredns" { 53 } else { 8080 };
            let mut labels = vec![(app_key, app)];
            if *exported {
                labels.push(("mirror.linkerd.io/exported", "true"));
            }
            // Deployment.
            g.line("- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    annotations:\n      deployment.kubernetes.io/revision: \"1\"");
            let m = g.meta_with(
                ns,
                deployment,
                &[(app_key, app)],
                "kube-controller-manager",
                "    generation: 1\n",
                "",
            );
            g.line(&m);
            g.line(&format!(
                "  spec:\n    progressDeadlineSeconds: 600\n    replicas: {replicas}\n    revisionHistoryLimit: 10\n    selector:\n      matchLabels:\n        {app_key}: {app}\n    strategy:\n      rollingUpdate:\n        maxSurge: 25%\n        maxUnavailable: 25%\n      type: RollingUpdate\n    template:\n      metadata:\n        annotations:\n          linkerd.io/inject: enabled\n        creationTimestamp: null\n        labels:\n          {app_key}: {app}\n      spec:\n        containers:\n        - image: registry.example.com/{container}:1.4.2\n          imagePullPolicy: IfNotPresent\n          name: {container}\n          ports:\n          - containerPort: {port}\n            name: http\n            protocol: TCP\n          resources: {{}}\n          terminationMessagePath: /dev/termination-log\n          terminationMessagePolicy: File\n        dnsPolicy: ClusterFirst\n        restartPolicy: Always\n        schedulerName: default-scheduler\n        securityContext: {{}}\n        serviceAccountName: default\n        terminationGracePeriodSeconds: 30\n  status:\n    availableReplicas: {replicas}\n    conditions:\n    - lastTransitionTime: \"{TIME}\"\n      lastUpdateTime: \"{TIME}\"\n      message: Deployment has minimum availability.\n      reason: MinimumReplicasAvailable\n      status: \"True\"\n      type: Available\n    observedGeneration: 1\n    readyReplicas: {replicas}\n    replicas: {replicas}\n    updatedReplicas: {replicas}"
            ));
            // Pods of its ReplicaSet.
            let hash = g.suffix(10);
            let rs = format!("{deployment}-{hash}");
            let rs_uid = g.uid();
            let mut pods = vec![];
            for _ in 0..*replicas {
                let pod = format!("{rs}-{}", g.suffix(5));
                let ip = pod_ip();
                let uid = self.pod(
                    &mut g,
                    ns,
                    &pod,
                    &[
                        (app_key, app),
                        ("pod-template-hash", &hash),
                        ("linkerd.io/control-plane-ns", "linkerd"),
                    ],
                    &hash,
                    ("ReplicaSet", &rs, &rs_uid),
                    &ip,
                    &format!("{}-worker", self.cluster),
                    false,
                    container,
                    port,
                );
                pods.push(PodInfo { name: pod, ip, uid });
            }
            // Service, Endpoints, EndpointSlice.
            g.line("- apiVersion: v1\n  kind: Service\n  metadata:");
            let m = g.meta(ns, name, &labels, "kubectl-client-side-apply");
            let svc_uid = m
                .rsplit_once("uid: ")
                .map(|(_, u)| u.to_string())
                .unwrap_or_default();
            g.line(&m);
            g.line(&format!("  spec:\n    clusterIP: {ip}\n    clusterIPs:\n    - {ip}\n    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: http\n      port: 80\n      protocol: TCP\n      targetPort: {port}\n    selector:\n      {app_key}: {app}\n    sessionAffinity: None\n    type: ClusterIP\n  status:\n    loadBalancer: {{}}"));
            self.endpoints(&mut g, ns, name, &labels, &pods, ("http", port), &svc_uid);
        }
        // A StatefulSet behind a headless Service.
        self.statefulset(&mut g, &mut pod_ip);
        // The multicluster gateway, and a mirror Service an earlier link left.
        g.line("- apiVersion: v1\n  kind: Service\n  metadata:\n    annotations:\n      mirror.linkerd.io/gateway-identity: linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local\n      mirror.linkerd.io/multicluster-gateway: \"true\"\n      mirror.linkerd.io/probe-path: /ready\n      mirror.linkerd.io/probe-period: \"3\"");
        let m = g.meta(
            "linkerd-multicluster",
            "linkerd-gateway",
            &[
                ("app", "linkerd-gateway"),
                ("linkerd.io/extension", "multicluster"),
            ],
            "helm",
        );
        g.line(&m);
        g.line("  spec:\n    clusterIP: 10.96.0.200\n    clusterIPs:\n    - 10.96.0.200\n    externalTrafficPolicy: Cluster\n    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: mc-gateway\n      nodePort: 31143\n      port: 4143\n      protocol: TCP\n      targetPort: 4143\n    - name: mc-probe\n      nodePort: 31191\n      port: 4191\n      protocol: TCP\n      targetPort: 4191\n    selector:\n      app: linkerd-gateway\n    sessionAffinity: None\n    type: LoadBalancer\n  status:\n    loadBalancer:\n      ingress:\n      - ip: 172.18.255.200\n        ipMode: VIP");
        let mirror = format!("svc-000-{}", self.linked);
        g.line("- apiVersion: v1\n  kind: Service\n  metadata:\n    annotations:\n      mirror.linkerd.io/remote-svc-fq-name: svc-000.team-0.svc.cluster.local");
        let m = g.meta(
            "team-0",
            &mirror,
            &[
                ("mirror.linkerd.io/cluster-name", self.linked),
                ("mirror.linkerd.io/mirrored-service", "true"),
            ],
            "controller",
        );
        g.line(&m);
        g.line("  spec:\n    clusterIP: 10.96.0.201\n    clusterIPs:\n    - 10.96.0.201\n    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: http\n      port: 80\n      protocol: TCP\n      targetPort: 80\n    sessionAffinity: None\n    type: ClusterIP\n  status:\n    loadBalancer: {}");
        g.line("- apiVersion: v1\n  kind: Endpoints\n  metadata:");
        let m = g.meta(
            "team-0",
            &mirror,
            &[
                ("mirror.linkerd.io/cluster-name", self.linked),
                ("mirror.linkerd.io/mirrored-service", "true"),
            ],
            "controller",
        );
        g.line(&m);
        g.line("  subsets:\n  - addresses:\n    - ip: 172.19.255.200\n    ports:\n    - name: http\n      port: 4143\n      protocol: TCP");
        // An application Secret.
        g.line("- apiVersion: v1\n  data:\n    password: c2VjcmV0\n  kind: Secret\n  metadata:");
        let m = g.meta("team-0", "db-credentials", &[], "kubectl-create");
        g.line(&m);
        g.line("  type: Opaque");
        g.line("kind: List\nmetadata:\n  resourceVersion: \"\"");
        g.out
    }

    fn namespace(&self, g: &mut Gen, ns: &str) {
        g.line("- apiVersion: v1\n  kind: Namespace\n  metadata:");
        let m = g.meta(
            "",
            ns,
            &[("kubernetes.io/metadata.name", ns)],
            "kubectl-create",
        );
        g.line(&m);
        g.line("  spec:\n    finalizers:\n    - kubernetes\n  status:\n    phase: Active");
    }

    /// Writes a running, ready pod; returns its uid.
    #[allow(clippy::too_many_arguments)]
    fn pod(
        &self,
        g: &mut Gen,
        ns: &str,
        name: &str,
        labels: &[(&str, &str)],
        _hash: &str,
        owner: (&str, &str, &str),
        ip: &str,
        node: &str,
        host_network: bool,
        container: &str,
        port: u16,
    ) -> String {
        let (owner_kind, owner_name, owner_uid) = owner;
        let owner_api = if owner_kind == "Node" {
            "v1"
        } else {
            "apps/v1"
        };
        g.line("- apiVersion: v1\n  kind: Pod\n  metadata:");
        let generate = name.rsplit_once('-').map(|(p, _)| p).unwrap_or(name);
        let pre = if owner_kind == "StatefulSet" {
            String::new()
        } else {
            format!("    generateName: {generate}-\n")
        };
        let owners = format!(
            "    ownerReferences:\n    - apiVersion: {owner_api}\n      blockOwnerDeletion: true\n      controller: true\n      kind: {owner_kind}\n      name: {owner_name}\n      uid: {owner_uid}\n"
        );
        let m = g.meta_with(ns, name, labels, "kubelet", &pre, &owners);
        let uid = m
            .rsplit_once("uid: ")
            .map(|(_, u)| u.to_string())
            .unwrap_or_default();
        g.line(&m);
        let ports = if port == 0 {
            String::new()
        } else {
            format!(
                "\n      ports:\n      - containerPort: {port}\n        name: http\n        protocol: TCP"
            )
        };
        let host = if host_network {
            "\n    hostNetwork: true"
        } else {
            ""
        };
        g.line(&format!("  spec:\n    containers:\n    - image: registry.example.com/{container}:1.4.2\n      imagePullPolicy: IfNotPresent\n      name: {container}{ports}\n      resources: {{}}\n      terminationMessagePath: /dev/termination-log\n      terminationMessagePolicy: File\n    dnsPolicy: ClusterFirst\n    enableServiceLinks: true{host}\n    nodeName: {node}\n    preemptionPolicy: PreemptLowerPriority\n    priority: 0\n    restartPolicy: Always\n    schedulerName: default-scheduler\n    securityContext: {{}}\n    serviceAccount: default\n    serviceAccountName: default\n    terminationGracePeriodSeconds: 30\n    tolerations:\n    - effect: NoExecute\n      key: node.kubernetes.io/not-ready\n      operator: Exists\n      tolerationSeconds: 300"));
        g.line(&format!("  status:\n    conditions:\n    - lastProbeTime: null\n      lastTransitionTime: \"{TIME}\"\n      status: \"True\"\n      type: Initialized\n    - lastProbeTime: null\n      lastTransitionTime: \"{TIME}\"\n      status: \"True\"\n      type: Ready\n    - lastProbeTime: null\n      lastTransitionTime: \"{TIME}\"\n      status: \"True\"\n      type: ContainersReady\n    - lastProbeTime: null\n      lastTransitionTime: \"{TIME}\"\n      status: \"True\"\n      type: PodScheduled\n    containerStatuses:\n    - containerID: containerd://{}\n      image: registry.example.com/{container}:1.4.2\n      imageID: registry.example.com/{container}@sha256:{}\n      lastState: {{}}\n      name: {container}\n      ready: true\n      restartCount: 0\n      started: true\n      state:\n        running:\n          startedAt: \"{TIME}\"\n    hostIP: 172.18.0.3\n    hostIPs:\n    - ip: 172.18.0.3\n    phase: Running\n    podIP: {ip}\n    podIPs:\n    - ip: {ip}\n    qosClass: BestEffort\n    startTime: \"{TIME}\"",
            uid.replace('-', ""), uid.replace('-', "")));
        uid
    }

    #[allow(clippy::too_many_arguments)]
    fn endpoints(
        &self,
        g: &mut Gen,
        ns: &str,
        name: &str,
        labels: &[(&str, &str)],
        pods: &[PodInfo],
        (port_name, port): (&str, u16),
        svc_uid: &str,
    ) {
        let node = format!("{}-worker", self.cluster);
        g.line(&format!("- apiVersion: v1\n  kind: Endpoints\n  metadata:\n    annotations:\n      endpoints.kubernetes.io/last-change-trigger-time: \"{TIME}\""));
        let m = g.meta(ns, name, labels, "kube-controller-manager");
        g.line(&m);
        g.line("  subsets:\n  - addresses:");
        for p in pods {
            g.line(&format!("    - ip: {}\n      nodeName: {node}\n      targetRef:\n        kind: Pod\n        name: {}\n        namespace: {ns}\n        uid: {}", p.ip, p.name, p.uid));
        }
        g.line(&format!(
            "    ports:\n    - name: {port_name}\n      port: {port}\n      protocol: TCP"
        ));
        g.line("- addressType: IPv4\n  apiVersion: discovery.k8s.io/v1\n  endpoints:");
        for p in pods {
            g.line(&format!("  - addresses:\n    - {}\n    conditions:\n      ready: true\n      serving: true\n      terminating: false\n    nodeName: {node}\n    targetRef:\n      kind: Pod\n      name: {}\n      namespace: {ns}\n      uid: {}", p.ip, p.name, p.uid));
        }
        g.line(&format!("  kind: EndpointSlice\n  metadata:\n    annotations:\n      endpoints.kubernetes.io/last-change-trigger-time: \"{TIME}\""));
        let slice = format!("{name}-{}", g.suffix(5));
        let mut slice_labels: Vec<(&str, &str)> = labels.to_vec();
        slice_labels.push((
            "endpointslice.kubernetes.io/managed-by",
            "endpointslice-controller.k8s.io",
        ));
        slice_labels.push(("kubernetes.io/service-name", name));
        slice_labels.sort();
        let pre = format!("    generateName: {name}-\n    generation: 1\n");
        let owners = format!(
            "    ownerReferences:\n    - apiVersion: v1\n      blockOwnerDeletion: true\n      controller: true\n      kind: Service\n      name: {name}\n      uid: {svc_uid}\n"
        );
        let m = g.meta_with(
            ns,
            &slice,
            &slice_labels,
            "kube-controller-manager",
            &pre,
            &owners,
        );
        g.line(&m);
        g.line(&format!(
            "  ports:\n  - name: {port_name}\n    port: {port}\n    protocol: TCP"
        ));
    }

    fn statefulset(&self, g: &mut Gen, pod_ip: &mut dyn FnMut() -> String) {
        let ns = "team-0";
        g.line("- apiVersion: apps/v1\n  kind: StatefulSet\n  metadata:");
        let m = g.meta_with(
            ns,
            "db",
            &[("app", "db")],
            "kubectl-client-side-apply",
            "    generation: 1\n",
            "",
        );
        let set_uid = m
            .rsplit_once("uid: ")
            .map(|(_, u)| u.to_string())
            .unwrap_or_default();
        g.line(&m);
        g.line("  spec:\n    persistentVolumeClaimRetentionPolicy:\n      whenDeleted: Retain\n      whenScaled: Retain\n    podManagementPolicy: OrderedReady\n    replicas: 2\n    revisionHistoryLimit: 10\n    selector:\n      matchLabels:\n        app: db\n    serviceName: db\n    template:\n      metadata:\n        creationTimestamp: null\n        labels:\n          app: db\n      spec:\n        containers:\n        - image: registry.example.com/postgres:16\n          imagePullPolicy: IfNotPresent\n          name: postgres\n          ports:\n          - containerPort: 5432\n            name: tcp\n            protocol: TCP\n          resources: {}\n          terminationMessagePath: /dev/termination-log\n          terminationMessagePolicy: File\n        dnsPolicy: ClusterFirst\n        restartPolicy: Always\n        schedulerName: default-scheduler\n        securityContext: {}\n        terminationGracePeriodSeconds: 30\n    updateStrategy:\n      rollingUpdate:\n        partition: 0\n      type: RollingUpdate\n  status:\n    availableReplicas: 2\n    collisionCount: 0\n    currentReplicas: 2\n    currentRevision: db-6c9f7b5d8\n    observedGeneration: 1\n    readyReplicas: 2\n    replicas: 2\n    updateRevision: db-6c9f7b5d8\n    updatedReplicas: 2");
        let mut pods = vec![];
        for i in 0..2 {
            let name = format!("db-{i}");
            let ip = pod_ip();
            let index = i.to_string();
            let uid = self.pod(
                g,
                ns,
                &name,
                &[
                    ("app", "db"),
                    ("apps.kubernetes.io/pod-index", &index),
                    ("controller-revision-hash", "db-6c9f7b5d8"),
                    ("statefulset.kubernetes.io/pod-name", &name),
                ],
                "",
                ("StatefulSet", "db", &set_uid),
                &ip,
                &format!("{}-worker", self.cluster),
                false,
                "postgres",
                5432,
            );
            pods.push(PodInfo { name, ip, uid });
        }
        g.line("- apiVersion: v1\n  kind: Service\n  metadata:");
        let m = g.meta(ns, "db", &[("app", "db")], "kubectl-client-side-apply");
        let svc_uid = m
            .rsplit_once("uid: ")
            .map(|(_, u)| u.to_string())
            .unwrap_or_default();
        g.line(&m);
        g.line("  spec:\n    clusterIP: None\n    clusterIPs:\n    - None\n    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: tcp\n      port: 5432\n      protocol: TCP\n      targetPort: 5432\n    selector:\n      app: db\n    sessionAffinity: None\n    type: ClusterIP\n  status:\n    loadBalancer: {}");
        let labels = [("app", "db"), ("service.kubernetes.io/headless", "")];
        self.endpoints(g, ns, "db", &labels, &pods, ("tcp", 5432), &svc_uid);
    }
}
