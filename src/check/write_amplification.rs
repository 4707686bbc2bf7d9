//! Write amplification (spec §13: "repair runs nearly continuously" with many services; #9359):
//! every service mirror's writes to its local API server that change nothing (an UPDATE or
//! PATCH whose result equals the object before it but for server-managed metadata) stay within
//! the scenario's budget, `[checks] needless_writes = "N/period"`, in the settled world.
//!
//! The settled world is the liveness window (after the last heal or action plus the quiet
//! period), stretched to at least one endpoint refresh period so that it holds a periodic
//! repair. Amplification is a steady-state cost: what a mirror keeps writing every period for
//! as long as it runs. A start or a restart re-handles every service once more than it needs
//! (a lagging lister replays what the handlers already saw, and each pass writes the Link
//! status again), and recovering from a fault takes extra writes; those transients are a
//! bounded price, not the load #9359 is about, so they are counted in the detail but not
//! judged.
//!
//! Needless writes are not wrong, they are load: the API server treats them as no-ops, but each
//! one is an API round trip made by the mirror's single event loop, serialized with every other
//! event of the link (spec §13: with ~500 services repair "runs nearly continuously", delaying
//! the mirroring of new services). The budget states how much of that the scenario tolerates;
//! a scenario without it does not run this check.

use super::{Check, CheckResult};
use crate::scenario::WriteBudget;
use crate::sim::{SimDuration, SimTime};
use crate::world::Observation;
use crate::world::observe::WriteOp;
use crate::world::view::WorldView;
use std::collections::BTreeMap;

pub struct WriteAmplification {
    budget: WriteBudget,
    /// Writes from here on are judged (the settled world).
    settled_from: SimTime,
    /// Per (source cluster, link): (needless writes, all writes), over the settled world.
    counts: BTreeMap<(usize, String), (u64, u64)>,
    /// Needless writes before the settled world, all links.
    transient_needless: u64,
}

impl WriteAmplification {
    /// A check of `budget` over the settled world of `scenario`.
    pub fn new(budget: WriteBudget, scenario: &crate::scenario::Scenario) -> WriteAmplification {
        let end = scenario.duration;
        let from = scenario.liveness_from().min(SimDuration(
            end.0
                .saturating_sub(crate::defaults::ENDPOINT_REFRESH_PERIOD.0),
        ));
        WriteAmplification {
            budget,
            settled_from: SimTime::ZERO + from,
            counts: BTreeMap::new(),
            transient_needless: 0,
        }
    }

    /// Counts one observation made at `at` (only the service mirror's writes count).
    fn count(&mut self, at: SimTime, obs: &Observation) {
        let Observation::MirrorWrite(w) = obs else {
            return;
        };
        let rewrite = match w.op {
            WriteOp::Update | WriteOp::UpdateStatus | WriteOp::Patch => true,
            WriteOp::Create | WriteOp::Delete => false,
        };
        let needless = rewrite && !w.changed();
        if at < self.settled_from {
            self.transient_needless += u64::from(needless);
            return;
        }
        let entry = self.counts.entry((w.cluster, w.link.clone())).or_default();
        entry.1 += 1;
        entry.0 += u64::from(needless);
    }

    /// Needless writes allowed per service mirror in the settled world up to `end`: the
    /// budget's rate over it, rounded up to whole periods.
    fn allowed(&self, end: SimTime) -> u64 {
        let per = self.budget.per.0.max(1);
        self.budget.count * end.0.saturating_sub(self.settled_from.0).div_ceil(per)
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
                    "the {} mirror made {needless} write(s) that changed nothing (of {all}) from {} to {end}, more than the {allowed} allowed ({}/{})",
                    name(*cluster, link),
                    self.settled_from,
                    self.budget.count,
                    crate::sim::SimDuration(self.budget.per.0),
                ));
            }
        }
        if over.is_empty() {
            (
                true,
                format!(
                    "{needless_total} of {total} mirror write(s) from {} on changed nothing, at most {allowed} per service mirror allowed; {} before, while starting or recovering (not judged)",
                    self.settled_from, self.transient_needless
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

    fn observe(&mut self, at: SimTime, obs: &Observation, _view: WorldView<'_>) -> Option<String> {
        self.count(at, obs);
        None
    }

    fn finish(&mut self, view: WorldView<'_>, end: SimTime) -> CheckResult {
        let (passed, detail) = self.verdict(end, |cluster, link| {
            format!("{}/{link}", view.cluster_name(cluster))
        });
        // A run stopped (`--until`) before the settled world has nothing to judge.
        let judged = end > self.settled_from;
        CheckResult {
            name: self.name().into(),
            class: self.class(),
            judged,
            passed: passed && judged,
            detail: if judged {
                detail
            } else {
                format!(
                    "not judged: the run stopped at {end}, before the settled world from {}",
                    self.settled_from
                )
            },
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

    /// A check whose settled world starts at `from`.
    fn check(count: u64, from: SimDuration) -> WriteAmplification {
        WriteAmplification {
            budget: WriteBudget {
                count,
                per: SimDuration::from_secs(60),
            },
            settled_from: SimTime::ZERO + from,
            counts: BTreeMap::new(),
            transient_needless: 0,
        }
    }

    const SETTLED: SimTime = SimTime(30_000_000_000);

    #[test]
    fn counts_only_writes_that_change_nothing() {
        let mut c = check(2, SimDuration::ZERO);
        for _ in 0..3 {
            c.count(SETTLED, &write(WriteOp::Update, false));
            c.count(SETTLED, &write(WriteOp::Update, true));
            c.count(SETTLED, &write(WriteOp::Create, false));
            c.count(SETTLED, &write(WriteOp::Delete, false));
        }
        c.count(SETTLED, &Observation::FaultInjected { index: 0 });
        assert_eq!(c.counts[&(0, "east".to_string())], (3, 12));
        // Two minutes allow four needless writes.
        let end = SimTime::ZERO + SimDuration::from_secs(120);
        let (passed, detail) = c.verdict(end, |_, l| l.to_string());
        assert!(passed, "{detail}");
    }

    #[test]
    fn fails_above_the_budget() {
        let mut c = check(1, SimDuration::from_secs(30));
        for _ in 0..4 {
            c.count(SETTLED, &write(WriteOp::Patch, false));
        }
        // 90s of settled world round up to two periods: two allowed, four made.
        let end = SimTime::ZERO + SimDuration::from_secs(120);
        assert_eq!(c.allowed(end), 2);
        let (passed, detail) = c.verdict(end, |_, l| format!("west/{l}"));
        assert!(!passed);
        assert!(
            detail.contains("west/east mirror made 4 write(s)"),
            "{detail}"
        );
    }

    /// Start-up and recovery rewrites are counted apart and not judged.
    #[test]
    fn judges_only_the_settled_world() {
        let mut c = check(1, SimDuration::from_secs(30));
        let early = SimTime::ZERO + SimDuration::from_secs(5);
        for _ in 0..10 {
            c.count(early, &write(WriteOp::UpdateStatus, false));
        }
        c.count(SETTLED, &write(WriteOp::Update, false));
        let end = SimTime::ZERO + SimDuration::from_secs(90);
        let (passed, detail) = c.verdict(end, |_, l| l.to_string());
        assert!(passed, "{detail}");
        assert!(detail.contains("10 before"), "{detail}");
        c.count(SETTLED, &write(WriteOp::Update, false));
        assert!(!c.verdict(end, |_, l| l.to_string()).0);
    }
}
