//! Terminal sharing: the host runs a shell in a PTY and serves its output to
//! viewers ([`host`]); a viewer watches and, when the host grants it, types
//! ([`view`]).
//!
//! On a terminal session's first stream the host sends a `Terminal` frame
//! (viewer id, control flag, size), then the catch-up screen as one data
//! packet, then live output as data packets; it sends a new `Terminal` frame
//! whenever control or size changes. The viewer sends keystrokes as data
//! packets and its window size as `Resize` frames. The host enforces who may
//! type: input from anyone but the current controller is dropped.

pub mod host;
pub mod view;
