//! The cluster watcher's view of the target gateway and the repairs it triggers (spec §4.1
//! step 7, §6.5, §8.3; `watchGatewayLiveness`).
//!
//! `gatewayAlive` is true whenever a watcher is constructed (since linkerd2#8725), whatever the
//! probe worker thinks; each liveness message from the probe worker sets it and enqueues
//! `RepairEndpoints`, which writes the new readiness into every gateway-mode mirror; and every
//! repair period (1 minute) the ticker enqueues `RepairEndpoints` too.
//!
//! Inputs: liveness messages and ticker firings. Outputs: the events to enqueue and the next
//! ticker delay. The caller owns the queue and the timer.

use super::config::LinkConfig;
use super::event::MirrorEvent;
use crate::sim::SimDuration;

#[derive(Clone, Debug)]
pub struct GatewayLiveness {
    alive: bool,
    /// Breakage `liveness-ignores-dead`: a "dead" message leaves `gatewayAlive` true.
    ignore_dead: bool,
    /// `None`: the Link has no gateway address, so there is no repair ticker.
    repair_period: Option<SimDuration>,
}

impl GatewayLiveness {
    /// The state of a newly constructed watcher of `config`'s Link: alive.
    pub fn new(config: &LinkConfig) -> GatewayLiveness {
        let has_gateway = !config.link.spec.gateway_address.is_empty();
        GatewayLiveness {
            alive: !config
                .breakages
                .has(super::config::Breakage::WatcherStartsNotAlive),
            ignore_dead: config
                .breakages
                .has(super::config::Breakage::LivenessIgnoresDead),
            repair_period: has_gateway.then_some(config.repair_period),
        }
    }

    /// `gatewayAlive`, as handlers read it.
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// When the repair ticker first fires after the watcher starts (none without a gateway).
    pub fn first_repair_after(&self) -> Option<SimDuration> {
        self.repair_period
    }

    /// The ticker fired: a repair to enqueue, and the ticker's next delay.
    pub fn on_repair_tick(&self) -> (MirrorEvent, Option<SimDuration>) {
        (MirrorEvent::RepairEndpoints, self.repair_period)
    }

    /// A liveness message from the probe worker: the repair to enqueue.
    pub fn on_liveness(&mut self, alive: bool) -> MirrorEvent {
        self.alive = alive || self.ignore_dead;
        MirrorEvent::RepairEndpoints
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::objects::Link;

    fn config(gateway: &str) -> LinkConfig {
        let mut link = Link::default();
        link.spec.target_cluster_name = "east".into();
        link.spec.gateway_address = gateway.into();
        LinkConfig::new(link)
    }

    /// linkerd2#8725: a new watcher starts alive even when the probe worker says otherwise.
    #[test]
    fn a_new_watcher_starts_alive_and_every_message_repairs() {
        let mut l = GatewayLiveness::new(&config("1.2.3.4"));
        assert!(l.alive());
        assert_eq!(l.on_liveness(false), MirrorEvent::RepairEndpoints);
        assert!(!l.alive());
        // A redundant message still repairs (the probe worker's first success, spec §8.3).
        assert_eq!(l.on_liveness(true), MirrorEvent::RepairEndpoints);
        assert_eq!(l.on_liveness(true), MirrorEvent::RepairEndpoints);
        assert!(l.alive());
    }

    #[test]
    fn the_repair_ticker_runs_every_period_only_with_a_gateway() {
        let l = GatewayLiveness::new(&config("1.2.3.4"));
        assert_eq!(l.first_repair_after(), Some(SimDuration::from_mins(1)));
        assert_eq!(
            l.on_repair_tick(),
            (
                MirrorEvent::RepairEndpoints,
                Some(SimDuration::from_mins(1))
            )
        );
        assert_eq!(GatewayLiveness::new(&config("")).first_repair_after(), None);
    }
}
