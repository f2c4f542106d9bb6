//! `[model] type = "burn"` runs end to end through the experiment pipeline (split,
//! featurise, train, calibrate, threshold, test), and bad network settings in an experiment
//! file are reported before any work starts.

use lotl_classifier::experiment::{self, ExperimentConfig};
use lotl_classifier::ModelKind;

const CONFIG: &str = r#"
name = "burn-small"
seed = 3

[[data]]
synth = { hosts = 10, days = 1, seed = 5, attack_rate = 3.0 }

[split]
by = "host"
ratios = [0.6, 0.2, 0.2]

[features]
recipe = "lotl"

[model]
type = "burn"
[model.burn]
embedding_dim = 8
hidden = [32]
learning_rate = 0.005
batch_size = 128
max_epochs = 6
early_stopping_rounds = 2
importance_rows = 300
seed = 1

[decision]
calibration = "platt"
"#;

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("exp.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn burn_experiment_trains_calibrates_and_ranks_test_events() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ExperimentConfig::from_file(&write(dir.path(), CONFIG)).unwrap();
    let parts = experiment::load_data(&cfg).unwrap();
    let mut log = Vec::new();
    let t = experiment::run(&cfg, parts, &mut |m| log.push(m.to_owned())).unwrap();
    assert_eq!(t.model.kind(), ModelKind::Burn);
    assert!(
        log.iter().any(|l| l.contains("training burn network")),
        "{log:?}"
    );
    assert!(!t.valid_loss.is_empty() && t.valid_loss.len() <= 6);
    let all = &t.test["all"];
    assert!(all.malicious > 0 && all.malicious < all.events);
    let auc = all.roc_auc.unwrap();
    assert!(auc > 0.9, "test ROC-AUC {auc}");
    let imp = t.model.feature_importance();
    assert_eq!(imp.len(), t.pipeline.n_columns());
    assert!(imp.iter().any(|(_, v)| *v > 0.0));
}

#[test]
fn bad_network_settings_and_unknown_model_types_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = CONFIG.replace("hidden = [32]", "hidden = [32, 0]");
    let err = ExperimentConfig::from_file(&write(dir.path(), &bad)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("[model.burn]") && msg.contains("hidden"),
        "{msg}"
    );
    let unknown = CONFIG.replace(r#"type = "burn""#, r#"type = "xgboost""#);
    let msg = ExperimentConfig::from_file(&write(dir.path(), &unknown))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("xgboost") && msg.contains("gbdt or burn"),
        "{msg}"
    );
    let typo = CONFIG.replace("max_epochs = 6", "max_epoch = 6");
    let msg = ExperimentConfig::from_file(&write(dir.path(), &typo))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("max_epoch"), "{msg}");
}
