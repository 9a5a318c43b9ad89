//! The SFU core driven by str0m clients over a simulated network.

mod harness;

mod forwarding;
mod hostile;
mod ice_tcp;
mod keyframes;
mod lifecycle;
mod simulcast;
mod speakers;
