//! Observations: facts components report about what they did, for checks and reports.
//! They never influence the run (the kernel does not see them, the trace hash does not include
//! them), so a run with checks switched off has the same trace.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    FaultInjected { index: usize },
    FaultHealed { index: usize },
}
