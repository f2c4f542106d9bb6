#![allow(dead_code)]
use std::path::PathBuf;

/// `../shared` beside the repository: real data that the project does not commit.
pub fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(
        p.join("datasets/real").is_dir(),
        "{} is missing: tests on real data need ../shared beside the repository",
        p.display()
    );
    p
}

pub fn real(rel: &str) -> PathBuf {
    shared().join("datasets/real").join(rel)
}

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/fixtures")
        .join(rel)
}
