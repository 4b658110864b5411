//! The one integration-test binary: drives the real `evctl` binary, and the real AWS SDK,
//! against the emulator over loopback. Modules are grouped by feature; shared helpers live in
//! `support`.

mod apply;
mod ci;
mod cli;
mod dataplane;
mod destroy;
mod dev;
mod emulator;
mod outputs;
mod plan;
mod plan_support;
mod readme;
mod smoke;
mod spec;
mod spec_corpus;
mod spec_hostile;
mod support;
