//! Link status agrees with the mirrors (spec §2.2, §5.5): at the end of the run, for every
//! remote service a link mirrors,
//! - if the source cluster lacks its namespace (so Linkerd skips it), the Link's
//!   `status.mirrorServices` entry for it says `Mirrored=False`, reason `MissingNamespace`;
//! - if its mirror is exactly right (the convergence oracle finds nothing), the entry, when there
//!   is one, says `Mirrored=True` and points at the mirror: a status claiming a failure for a
//!   service that is mirrored misleads `linkerd multicluster check` and whoever reads it.
//!
//! Switched on per scenario with `[checks] link_status = true`.

use super::convergence::judge_mirror;
use super::{Check, CheckResult, oracle};
use crate::k8s::objects::LinkServiceStatus;
use crate::k8s::{Kind, ObjectKey};
use crate::sim::SimTime;
use crate::world::view::WorldView;

/// What the status entry of one remote service must say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected<'a> {
    /// Skipped: `Mirrored=False`, reason `MissingNamespace`, required.
    MissingNamespace,
    /// Mirrored exactly as `<svc>-<link>`: if present, `Mirrored=True` with that `localRef`.
    Mirrored(&'a str),
}

/// The problem with `entry` (the status of `service`), if any.
fn judge_entry(
    service: &str,
    expected: Expected,
    entry: Option<&LinkServiceStatus>,
) -> Option<String> {
    let cond = entry.and_then(|e| e.conditions.iter().find(|c| c.type_ == "Mirrored"));
    let shown = |c: &crate::k8s::objects::LinkCondition| {
        format!("Mirrored={} {}: {:?}", c.status, c.reason, c.message)
    };
    match (expected, cond) {
        (Expected::MissingNamespace, Some(c))
            if c.status == "False" && c.reason == "MissingNamespace" =>
        {
            None
        }
        (Expected::MissingNamespace, Some(c)) => Some(format!(
            "{service} is skipped (namespace missing) but its status says {}",
            shown(c)
        )),
        (Expected::MissingNamespace, None) => Some(format!(
            "{service} is skipped (namespace missing) but has no MissingNamespace status"
        )),
        (Expected::Mirrored(_), None) => None,
        (Expected::Mirrored(local), Some(c)) => {
            let points = c.local_ref.as_ref().is_some_and(|r| r.name == local);
            (c.status != "True" || !points).then(|| {
                format!(
                    "{service} is mirrored exactly as {local} but its status says {}",
                    shown(c)
                )
            })
        }
    }
}

#[derive(Default)]
pub struct LinkStatus;

impl Check for LinkStatus {
    fn name(&self) -> &'static str {
        "link-status"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Liveness
    }

    fn finish(&mut self, view: WorldView<'_>, _end: SimTime) -> CheckResult {
        let mut problems = Vec::new();
        let mut judged = 0;
        for link in oracle::links(view) {
            let local = view.store(link.src);
            let status: Vec<_> = view
                .link(link.src, &link.spec.name)
                .map(|l| l.status.mirror_services.iter().cloned().collect())
                .unwrap_or_default();
            for exported in link.exported() {
                let remote = exported.remote;
                let (ns, name) = (remote.namespace(), remote.name());
                let mirror = link.mirror_name(name);
                let expected = if exported.skipped {
                    Expected::MissingNamespace
                } else if judge_mirror(&link, &exported).is_empty()
                    && local
                        .get(&ObjectKey::new(Kind::Service, ns, &mirror))
                        .is_some()
                {
                    Expected::Mirrored(&mirror)
                } else {
                    // Not mirrored right (convergence reports it), or nothing expected yet (a
                    // headless service without endpoints).
                    continue;
                };
                judged += 1;
                let entry = status
                    .iter()
                    .find(|e| e.remote_ref.name == name && e.remote_ref.namespace == ns);
                let service = format!("{}/{}: {ns}/{name}", link.spec.from, link.spec.name);
                problems.extend(judge_entry(&service, expected, entry));
            }
        }
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed: problems.is_empty(),
            detail: if problems.is_empty() {
                format!("{judged} Link status entr(ies) agree with the mirrors")
            } else {
                problems.join("; ")
            },
            first_violation: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::{LinkCondition, TypedRef};

    fn entry(status: &str, reason: &str, local: Option<&str>) -> LinkServiceStatus {
        LinkServiceStatus {
            conditions: vec![LinkCondition {
                type_: "Mirrored".into(),
                status: status.into(),
                reason: reason.into(),
                message: String::new(),
                last_transition_time: None,
                local_ref: local.map(|n| TypedRef {
                    name: n.into(),
                    ..TypedRef::default()
                }),
            }],
            ..LinkServiceStatus::default()
        }
    }

    #[test]
    fn a_mirrored_service_may_have_no_entry_but_never_a_failure() {
        let ok = entry("True", "Mirrored", Some("web-east"));
        assert_eq!(
            judge_entry("web", Expected::Mirrored("web-east"), Some(&ok)),
            None
        );
        assert_eq!(
            judge_entry("web", Expected::Mirrored("web-east"), None),
            None
        );
        let wrong = entry("False", "InvalidService", None);
        let p = judge_entry("web", Expected::Mirrored("web-east"), Some(&wrong)).unwrap();
        assert!(p.contains("Mirrored=False InvalidService"), "{p}");
        let elsewhere = entry("True", "Mirrored", Some("other"));
        assert!(judge_entry("web", Expected::Mirrored("web-east"), Some(&elsewhere)).is_some());
    }

    #[test]
    fn a_skipped_service_must_say_missing_namespace() {
        let ok = entry("False", "MissingNamespace", None);
        assert_eq!(
            judge_entry("db", Expected::MissingNamespace, Some(&ok)),
            None
        );
        assert!(judge_entry("db", Expected::MissingNamespace, None).is_some());
        let wrong = entry("False", "InvalidService", None);
        assert!(judge_entry("db", Expected::MissingNamespace, Some(&wrong)).is_some());
    }
}
