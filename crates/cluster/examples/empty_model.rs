//! Print an untrained cluster model with the default configuration as JSON: a starting
//! point for `lotl watch` on a fleet with no scored history yet (it learns as it goes).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let params = lotl_cluster::ClusterConfig::default().check()?;
    println!("{}", lotl_cluster::ClusterModel::new(params).to_json()?);
    Ok(())
}
