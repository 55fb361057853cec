//! The SSH client library: upstream russh 0.65.1 from crates.io, or with
//! the off-by-default `russh-rtt-patch` feature the vendored copy with two
//! client patches (vendor/russh, patches/; README "The russh-rtt-patch
//! feature"). Same API either way; every use of russh goes through here.

#[cfg(not(feature = "russh-rtt-patch"))]
pub use russh::*;
#[cfg(feature = "russh-rtt-patch")]
pub use russh_rtt::*;
