//! What one command shares while it runs: the one tokio runtime and the
//! executors (whose Docker connection opens once, on first use).

use crate::error::{Error, Result};
use imm_executors::Registry;
use imm_lang::diagnostics::Code;

pub struct Session {
    pub runtime: tokio::runtime::Runtime,
    pub registry: Registry,
}

impl Session {
    pub fn new() -> Result<Session> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    Code::RuntimeUnavailable,
                    format!("cannot start the async runtime: {e}"),
                    "this is a problem of the machine (threads, file descriptors); free some and retry",
                )
            })?;
        Ok(Session {
            runtime,
            registry: Registry::all(),
        })
    }

    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }
}
