//! Model bundles (lotl's own, versioned and checksummed), and exports to the formats
//! production scorers read.

pub mod bundle;

pub use bundle::{Bundle, BundleError, Manifest, BUNDLE_FORMAT_VERSION};
