//! The network model (placeholder while the topology is written).
