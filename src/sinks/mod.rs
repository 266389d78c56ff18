//! Where documents go: run reports today; metrics pushes and log outputs share this layer as
//! they arrive (HTTP and S3 sinks come with the sinks issue).

mod directory;

pub use directory::{DirectorySink, Retention};

use crate::error::ResourceError;

/// A destination for named documents.
pub trait Sink: Send + Sync {
    /// Stores `bytes` under `name`, atomically: readers see all of it or none of it. The error
    /// says whether trying again may help (a full queue, a timeout) or not (a permission).
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), ResourceError>;
    /// For messages: "directory /var/lib/driftless/runs".
    fn describe(&self) -> String;
}
