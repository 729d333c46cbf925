//! What to rotate and how: the manifest (or default mode's discovery of the shared
//! credentials file), the paths they resolve against, and the resulting profiles with
//! their sinks and policies. Pure except for reading the files it is pointed at.

pub(crate) mod argv;
pub(crate) mod discovery;
pub(crate) mod init;
pub(crate) mod manifest;
pub(crate) mod paths;
pub(crate) mod profile;
