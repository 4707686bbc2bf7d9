//! The registry of named options that change modelled behaviour:
//! - **fixes**: each is a quirk of the real Linkerd (documented with its source in
//!   `QUIRKS.md`); by default mcsim does what Linkerd really does, and a scenario can switch the
//!   intended behaviour on with `[linkerd] fixes = ["name"]`;
//! - **breakages**: deliberately broken component variants that exist only so tests can prove a
//!   check fails (`[testing] breakages = ["name"]`).
//!
//! A name is added here in the same change that implements it.

pub const FIX_NAMES: &[&str] = &[];

pub const BREAKAGE_NAMES: &[&str] = &[];
