//! Scenario files: the TOML format (schema), typed values, validation with `file:line:column`
//! diagnostics, and the validated model the world is built from.
//!
//! Contract: nothing outside this module sees a serde/TOML type; [`load_file`] and [`load_str`]
//! return either a complete [`Scenario`] or every [`Diagnostic`] found, never a panic.

pub mod diag;
pub mod fault;
pub mod import;
pub mod load;
pub mod model;
pub mod save;
pub mod schema;
pub mod values;

pub use diag::{Diagnostic, Diagnostics, did_you_mean, snippet};
pub use fault::*;
pub use load::{CHECK_NAMES, load_file, load_str};
pub use model::*;
pub use save::{Paths, save, save_with};
