//! Write amplification (spec §13: "repair runs nearly continuously" with many services; #9359):
//! every service mirror's writes to its local API server that change nothing (an UPDATE or
//! PATCH whose result equals the object before it but for server-managed metadata) stay within
//! the scenario's budget, `[checks] needless_writes = "N/period"`, counted over the whole run.
//!
//! Needless writes are not wrong, they are load: the API server treats them as no-ops, but each
//! one is an API round trip made by the mirror's single event loop, serialized with every other
//! event of the link (spec §13: with ~500 services repair "runs nearly continuously", delaying
//! the mirroring of new services). The budget states how much of that the scenario tolerates;
//! a scenario without it does not run this check.

use super::{Check, CheckResult};
use crate::scenario::WriteBudget;
use crate::sim::SimTime;
use crate::world::Observation;
use crate::world::observe::WriteOp;
use crate::world::view::WorldView;
use std::collections::BTreeMap;

pub struct WriteAmplification {
    budget: WriteBudget,
    /// Per (source cluster, link): (needless writes, all writes).
    counts: BTreeMap<(usize, String), (u64, u64)>,
}

impl WriteAmplification {
    pub fn new(budget: WriteBudget) -> WriteAmplification {
        WriteAmplification {
            budget,
            counts: BTreeMap::new(),
        }
    }

    /// Counts one observation (only the service mirror's writes count).
    fn count(&mut self, obs: &Observation) {
        let Observation::MirrorWrite(w) = obs else {
            return;
        };
        let entry = self.counts.entry((w.cluster, w.link.clone())).or_default();
        entry.1 += 1;
        let rewrite = match w.op {
            WriteOp::Update | WriteOp::UpdateStatus | WriteOp::Patch => true,
            WriteOp::Create | WriteOp::Delete => false,
        };
        if rewrite && !w.changed() {
            entry.0 += 1;
        }
    }

    /// Needless writes allowed per service mirror in a run of length `end`: the budget's rate
    /// over the run, rounded up to whole periods.
    fn allowed(&self, end: SimTime) -> u64 {
        let per = self.budget.per.0.max(1);
        self.budget.count * end.0.div_ceil(per)
    }

    /// (passed, detail) over the counted writes; `name` renders a (cluster, link) key.
    fn verdict(&self, end: SimTime, name: impl Fn(usize, &str) -> String) -> (bool, String) {
        let allowed = self.allowed(end);
        let mut over = Vec::new();
        let mut needless_total = 0;
        let mut total = 0;
        for ((cluster, link), (needless, all)) in &self.counts {
            needless_total += needless;
            total += all;
            if *needless > allowed {
                over.push(format!(
                    "the {} mirror made {needless} write(s) that changed nothing (of {all}), more than the {allowed} allowed ({}/{} over {end})",
                    name(*cluster, link),
                    self.budget.count,
                    crate::sim::SimDuration(self.budget.per.0),
                ));
            }
        }
        if over.is_empty() {
            (
                true,
                format!(
                    "{needless_total} of {total} mirror write(s) changed nothing, at most {allowed} per service mirror allowed"
                ),
            )
        } else {
            (false, over.join("; "))
        }
    }
}

impl Check for WriteAmplification {
    fn name(&self) -> &'static str {
        "write-amplification"
    }
    fn class(&self) -> super::CheckClass {
        super::CheckClass::Safety
    }

    fn observe(&mut self, _at: SimTime, obs: &Observation, _view: WorldView<'_>) -> Option<String> {
        self.count(obs);
        None
    }

    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let (passed, detail) = self.verdict(end, |cluster, link| {
            format!("{}/{link}", view.cluster_name(cluster))
        });
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged: true,
            passed,
            detail,
            first_violation: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimDuration;

    /// A write of `op` to the mirror Endpoints, changing its addresses or not.
    fn write(op: WriteOp, changed: bool) -> Observation {
        use crate::k8s::objects::{EndpointAddress, EndpointSubset, Endpoints};
        let before = Endpoints::new("default", "web-east");
        let mut after = before.clone();
        after.metadata.resource_version = "2".into();
        if changed {
            after.subsets.push(EndpointSubset {
                addresses: vec![EndpointAddress {
                    ip: "10.0.0.1".into(),
                    ..EndpointAddress::default()
                }],
                ..EndpointSubset::default()
            });
        }
        let arc = |e: Endpoints| std::sync::Arc::new(crate::k8s::Object::Endpoints(e));
        Observation::MirrorWrite(Box::new(crate::world::observe::MirrorWrite {
            cluster: 0,
            link: "east".into(),
            op,
            key: crate::k8s::ObjectKey::new(crate::k8s::Kind::Endpoints, "default", "web-east"),
            before: (op != WriteOp::Create).then(|| arc(before)),
            after: (op != WriteOp::Delete).then(|| arc(after)),
            service: None,
        }))
    }

    fn check(count: u64) -> WriteAmplification {
        WriteAmplification::new(WriteBudget {
            count,
            per: SimDuration::from_secs(60),
        })
    }

    #[test]
    fn counts_only_writes_that_change_nothing() {
        let mut c = check(2);
        for _ in 0..3 {
            c.count(&write(WriteOp::Update, false));
            c.count(&write(WriteOp::Update, true));
            c.count(&write(WriteOp::Create, false));
            c.count(&write(WriteOp::Delete, false));
        }
        c.count(&Observation::FaultInjected { index: 0 });
        assert_eq!(c.counts[&(0, "east".to_string())], (3, 12));
        // Two minutes allow four needless writes.
        let end = SimTime::ZERO + SimDuration::from_secs(120);
        let (passed, detail) = c.verdict(end, |_, l| l.to_string());
        assert!(passed, "{detail}");
    }

    #[test]
    fn fails_above_the_budget() {
        let mut c = check(1);
        for _ in 0..4 {
            c.count(&write(WriteOp::Patch, false));
        }
        // 90s round up to two periods: two allowed, four made.
        let end = SimTime::ZERO + SimDuration::from_secs(90);
        assert_eq!(c.allowed(end), 2);
        let (passed, detail) = c.verdict(end, |_, l| format!("west/{l}"));
        assert!(!passed);
        assert!(
            detail.contains("west/east mirror made 4 write(s)"),
            "{detail}"
        );
    }
}
