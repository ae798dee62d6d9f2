//! serve holds the tokio shells that put the rig on real sockets.
//!
//! For now that is [`proxy`], a Toxiproxy-compatible fault proxy for the
//! TCP links between real programs. Like every shell, these modules own the
//! clock and the sockets; nothing in `core` may depend on them.

pub mod proxy;
