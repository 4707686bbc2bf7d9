//! `watcher-restarts`: a service mirror restarts its cluster watcher only when its Link's spec
//! changed, when the Link was deleted and applied again, or when its process restarted (a crash,
//! a fatal exit). A status write of the controller's own must never restart it (linkerd2#13579):
//! every restart re-runs the orphan GC, the replay of every remote object and the repair, and
//! starts a new probe worker.

use super::{Check, CheckClass, CheckResult};
use crate::k8s::Object;
use crate::sim::SimTime;
use crate::world::Observation;
use crate::world::view::WorldView;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The last watcher start of each (cluster, link): its process incarnation and Link.
#[derive(Default)]
pub struct WatcherRestarts {
    last: BTreeMap<(usize, String), (u32, Arc<Object>)>,
    starts: u64,
    restarts: u64,
}

impl Check for WatcherRestarts {
    fn name(&self) -> &'static str {
        "watcher-restarts"
    }
    fn class(&self) -> CheckClass {
        CheckClass::Safety
    }
    fn observe(&mut self, _at: SimTime, obs: &Observation, view: WorldView<'_>) -> Option<String> {
        match obs {
            Observation::WatcherStopped { cluster, link } => {
                self.last.remove(&(*cluster, link.clone()));
                None
            }
            Observation::WatcherStarted {
                cluster,
                link,
                incarnation,
                object,
            } => {
                self.starts += 1;
                let previous = self
                    .last
                    .insert((*cluster, link.clone()), (*incarnation, object.clone()));
                let (was, before) = previous?;
                self.restarts += 1;
                (was == *incarnation && before.spec_eq(object)).then(|| {
                    format!(
                        "the {link} service mirror in {} restarted its watcher without a Link spec \
                         change, a Link deletion or a process restart (Link resourceVersion {} -> {})",
                        view.cluster_name(*cluster),
                        before.meta().resource_version,
                        object.meta().resource_version
                    )
                })
            }
            _ => None,
        }
    }
    fn finish(&mut self, _view: WorldView<'_>, _end: SimTime) -> CheckResult {
        CheckResult::new(
            self.name(),
            self.class(),
            true,
            format!(
                "{} watcher start(s), {} restart(s), each after a Link spec change, a Link \
                 deletion or a process restart",
                self.starts, self.restarts
            ),
        )
    }
}
