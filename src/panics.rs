//! mcsim's own panics as results. A panic inside a simulation is an mcsim bug; the run loop
//! catches it ([`catch`]) and the run ends with the verdict `internal-error`, its seed, the
//! trace so far and a replay command, so that `mcsim run` reports it like any failure and the
//! fuzzer keeps sweeping (the case becomes a failing seed with signature `panic: ...`, a
//! replay file and a shrunk case).
//!
//! A process-wide panic hook (installed once) records each panic's message and location for
//! the thread that panicked; inside [`catch`], the default hook's stderr report is suppressed
//! on that thread (the run reports the panic itself).

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// `message (file:line)` of this thread's last panic.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Depth of [`catch`] calls active on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

static INSTALL: Once = Once::new();

fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            let at = info
                .location()
                .map(|l| format!(" ({}:{})", l.file(), l.line()))
                .unwrap_or_default();
            let text = format!("{}{at}", message(info.payload()));
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            if CATCHING.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic becomes `Err("message (file:line)")`. The closure's captured state may
/// be left half-updated by the panic: callers only read what they know to be consistent.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    CATCHING.with(|c| c.set(c.get() + 1));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    outcome.map_err(|payload| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| message(payload.as_ref()))
    })
}

/// The message of a panic payload.
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// The failure signature of a panic: `panic: <message> (<file>:<line>)`, the message's first
/// line with every number replaced by `#` (an index or a length varies from seed to seed; the
/// location does not), so that one bug is one signature.
pub fn signature(panic: &str) -> String {
    let (text, location) = match panic.rfind(" (") {
        Some(i) if panic.ends_with(')') => (&panic[..i], &panic[i..]),
        _ => (panic, ""),
    };
    let first = text.lines().next().unwrap_or("");
    format!("panic: {}{location}", without_numbers(first))
}

/// `text` with every run of digits (and decimal points inside it) replaced by `#`.
pub fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for ch in text.chars() {
        let digit = ch.is_ascii_digit() || (in_number && ch == '.');
        if digit && !in_number {
            out.push('#');
        } else if !digit {
            out.push(ch);
        }
        in_number = digit;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_keeps_its_message_and_location() {
        let caught = catch(|| -> u32 { panic!("boom at index {}", 7) }).unwrap_err();
        assert!(
            caught.starts_with("boom at index 7 (src/panics.rs:"),
            "{caught}"
        );
        assert_eq!(catch(|| 5), Ok(5));
    }

    #[test]
    fn a_panic_signature_keeps_the_location_and_hides_numbers() {
        assert_eq!(
            signature("index out of bounds: the len is 3 but the index is 7 (src/x.rs:42)"),
            "panic: index out of bounds: the len is # but the index is # (src/x.rs:42)"
        );
        assert_eq!(signature("boom\nmore"), "panic: boom");
    }
}
