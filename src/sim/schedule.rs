//! The schedule: the one place where the *order* of the simulation is decided.
//!
//! Two kinds of decision go through here:
//! - **tie-breaks** among events due at the same instant (`rank`): the kernel orders its queue by
//!   `(time, rank, seq)`, so with rank 0 everywhere (the default, [`Exploration::Fifo`]) same-instant
//!   events run in the order they were scheduled;
//! - **message delays**: model jitter on a path (`jitter`, drawn from the schedule's model stream
//!   in every mode) and, when exploring, an extra perturbation within a bound (`perturb_delay`).
//!
//! The fuzzer switches the exploration mode. Every perturbation draw is recorded in order, and a
//! run can be driven from a recorded [`Tape`] instead of the seed; a tape entry of 0 always means
//! "no perturbation", so shrinking a tape towards zeros shrinks a run towards FIFO.

use super::rng::Prng;
use super::time::SimDuration;
use serde::{Deserialize, Serialize};

/// How same-instant ties and delay perturbations are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Exploration {
    /// FIFO tie-break, no delay perturbation: the reference ordering of a scenario.
    #[default]
    Fifo,
    /// Uniformly random tie-breaks and delay perturbations.
    Random,
    /// PCT-style: random per-target priorities with a few priority change points
    /// (Burckhardt et al., ASPLOS 2010), plus random delay perturbations.
    Pct,
}

/// A recorded (or shrunk) list of perturbation decisions. Entries past the end read as 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tape {
    /// Sparse: (decision index, value); indices not listed are 0.
    pub entries: Vec<(u64, u64)>,
}

impl Tape {
    fn value_at(&self, index: u64, cursor: &mut usize) -> u64 {
        // Entries are sorted by index and read in order, so a cursor makes lookups O(1).
        while *cursor < self.entries.len() && self.entries[*cursor].0 < index {
            *cursor += 1;
        }
        match self.entries.get(*cursor) {
            Some(&(i, v)) if i == index => v,
            _ => 0,
        }
    }
    pub fn nonzero(&self) -> usize {
        self.entries.iter().filter(|(_, v)| *v != 0).count()
    }
}

/// Where perturbation decisions come from.
#[derive(Clone, Debug)]
enum Source {
    Seeded(Prng),
    Tape { tape: Tape, cursor: usize },
}

#[derive(Clone, Debug)]
pub struct ScheduleConfig {
    pub exploration: Exploration,
    /// Upper bound of the extra delay added to a message when exploring.
    pub delay_perturbation_max: SimDuration,
    /// Number of PCT priority change points.
    pub pct_change_points: u32,
    /// Event count over which PCT change points are spread.
    pub pct_horizon_events: u64,
    /// Record every perturbation decision (for replay files and shrinking).
    pub record: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            exploration: Exploration::Fifo,
            delay_perturbation_max: SimDuration::from_millis(50),
            pct_change_points: 3,
            pct_horizon_events: 100_000,
            record: false,
        }
    }
}

/// The seeded schedule object owned by the kernel.
#[derive(Clone, Debug)]
pub struct Schedule {
    config: ScheduleConfig,
    model: Prng,
    source: Source,
    decisions: u64,
    recorded: Vec<(u64, u64)>,
    /// PCT: priority per target component (lower runs first), assigned on first sight.
    pct_priorities: Vec<u64>,
    pct_change_at: Vec<u64>,
    pct_low_next: u64,
}

impl Schedule {
    pub fn new(seed: u64, config: ScheduleConfig) -> Schedule {
        let mut perturb = Prng::stream(seed, "schedule/perturb");
        let mut pct_change_at: Vec<u64> = Vec::new();
        if config.exploration == Exploration::Pct {
            for _ in 0..config.pct_change_points {
                pct_change_at.push(perturb.below(config.pct_horizon_events.max(1)));
            }
            pct_change_at.sort_unstable();
        }
        Schedule {
            model: Prng::stream(seed, "schedule/model"),
            source: Source::Seeded(perturb),
            decisions: 0,
            recorded: Vec::new(),
            pct_priorities: Vec::new(),
            pct_change_at,
            pct_low_next: 1,
            config,
        }
    }

    /// A schedule that replays `tape` instead of drawing perturbations from the seed.
    pub fn from_tape(seed: u64, config: ScheduleConfig, tape: Tape) -> Schedule {
        let mut s = Schedule::new(seed, config);
        s.source = Source::Tape { tape, cursor: 0 };
        s
    }

    pub fn exploration(&self) -> Exploration {
        self.config.exploration
    }

    /// The perturbation decisions drawn so far (only when `record` is set).
    pub fn recorded(&self) -> Tape {
        Tape { entries: self.recorded.clone() }
    }

    pub fn decisions_made(&self) -> u64 {
        self.decisions
    }

    fn decide(&mut self) -> u64 {
        let index = self.decisions;
        self.decisions += 1;
        let value = match &mut self.source {
            Source::Seeded(prng) => prng.next_u64(),
            Source::Tape { tape, cursor } => tape.value_at(index, cursor),
        };
        if self.config.record && value != 0 {
            self.recorded.push((index, value));
        }
        value
    }

    /// Tie-break rank for an event scheduled for `target` (lower runs first among events due at
    /// the same instant; equal ranks fall back to scheduling order). `delivered` is the kernel's
    /// event count, used for PCT change points.
    #[inline]
    pub fn rank(&mut self, target: u32, delivered: u64) -> u64 {
        match self.config.exploration {
            Exploration::Fifo => 0,
            Exploration::Random => self.decide(),
            Exploration::Pct => {
                let t = target as usize;
                while self.pct_priorities.len() <= t {
                    let p = self.decide() | (1 << 63);
                    self.pct_priorities.push(p);
                }
                if let Some(&next) = self.pct_change_at.first()
                    && delivered >= next
                {
                    self.pct_change_at.remove(0);
                    // Change point: demote this target below everything assigned so far.
                    self.pct_priorities[t] = u64::MAX - self.pct_low_next;
                    self.pct_low_next += 1;
                }
                self.pct_priorities[t]
            }
        }
    }

    /// Model jitter on a path: uniform in `0..=bound`, drawn in every exploration mode.
    #[inline]
    pub fn jitter(&mut self, bound: SimDuration) -> SimDuration {
        if bound.is_zero() {
            SimDuration::ZERO
        } else {
            SimDuration(self.model.range_inclusive(0, bound.0))
        }
    }

    /// Extra delay for a message when exploring (0 in FIFO mode).
    #[inline]
    pub fn perturb_delay(&mut self) -> SimDuration {
        match self.config.exploration {
            Exploration::Fifo => SimDuration::ZERO,
            Exploration::Random | Exploration::Pct => {
                let bound = self.config.delay_perturbation_max.0;
                if bound == 0 {
                    return SimDuration::ZERO;
                }
                let v = self.decide();
                // Half the draws leave the message alone, so orderings stay realistic.
                if v & 1 == 0 { SimDuration::ZERO } else { SimDuration((v >> 1) % (bound + 1)) }
            }
        }
    }

    /// A perturbation decision for component-level choices (e.g. informer resync offsets,
    /// controller restart points): a value in `0..n`, 0 in FIFO mode.
    pub fn perturb_below(&mut self, n: u64) -> u64 {
        match self.config.exploration {
            Exploration::Fifo => 0,
            _ => {
                let v = self.decide();
                if n == 0 { 0 } else { v % n }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_never_perturbs() {
        let mut s = Schedule::new(1, ScheduleConfig::default());
        for i in 0..100 {
            assert_eq!(s.rank(i, u64::from(i)), 0);
            assert_eq!(s.perturb_delay(), SimDuration::ZERO);
        }
        assert_eq!(s.decisions_made(), 0);
    }

    #[test]
    fn tape_replays_recorded_decisions() {
        let config = ScheduleConfig { exploration: Exploration::Random, record: true, ..Default::default() };
        let mut s = Schedule::new(9, config.clone());
        let a: Vec<u64> = (0..50).map(|i| s.rank(i, 0)).collect();
        let tape = s.recorded();
        let mut r = Schedule::from_tape(9, config, tape);
        let b: Vec<u64> = (0..50).map(|i| r.rank(i, 0)).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn empty_tape_means_fifo() {
        let config = ScheduleConfig { exploration: Exploration::Random, ..Default::default() };
        let mut s = Schedule::from_tape(9, config, Tape::default());
        assert!((0..50).all(|i| s.rank(i, 0) == 0 && s.perturb_delay() == SimDuration::ZERO));
    }
}
