//! The simulation core: virtual time, seeded randomness, the event kernel, the schedule that
//! decides orderings, and the trace. Everything above this module (Kubernetes, network, mesh,
//! service mirror) is built from components driven by [`kernel::Kernel`].

pub mod hash;
pub mod kernel;
pub mod rng;
pub mod schedule;
pub mod time;
pub mod trace;

pub use kernel::{ComponentId, Ctx, Kernel, KernelConfig, RunOutcome, World};
pub use rng::{Prng, Ratio};
pub use schedule::{Exploration, Schedule, ScheduleConfig, Tape};
pub use time::{SimDuration, SimTime};
pub use trace::{Message, Trace};
