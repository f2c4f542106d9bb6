//! Writes ONNX check fixtures for `.ci/onnx_check.sh`: for each case a bundle's
//! `model.onnx`, 1,000 feature rows (`x.f32`, little-endian, row-major, NaN = missing) and
//! the bundle's own probabilities for them (`p.f32`), plus `cases.json`.
//!
//! `cargo run -p lotl-export --example onnx_fixture -- <out dir>`

#[path = "../tests/common/mod.rs"]
mod common;

use lotl_classifier::calibration::CalibrationMethod;
use lotl_classifier::ModelKind;
use lotl_export::Bundle;
use lotl_features::RecipeConfig;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: onnx_fixture <out dir>")?,
    );
    std::fs::create_dir_all(&out)?;
    let mut cases = Vec::new();
    for (name, recipe, cal, kind) in [
        (
            "elastic2026_none",
            RecipeConfig::Elastic2026,
            CalibrationMethod::None,
            ModelKind::Gbdt,
        ),
        (
            "lotl_platt",
            RecipeConfig::from_name("lotl")?,
            CalibrationMethod::Platt,
            ModelKind::Gbdt,
        ),
        (
            "lotl_burn_none",
            RecipeConfig::from_name("lotl")?,
            CalibrationMethod::None,
            ModelKind::Burn,
        ),
        (
            "lotl_burn_platt",
            RecipeConfig::from_name("lotl")?,
            CalibrationMethod::Platt,
            ModelKind::Burn,
        ),
    ] {
        let dir = out.join(name);
        let test = common::write_bundle_of(&dir.join("bundle"), recipe, cal, kind);
        let bundle = Bundle::load(&dir.join("bundle"))?;
        let events = &test[..test.len().min(1000)];
        std::fs::write(
            dir.join("model.onnx"),
            lotl_export::onnx::onnx_bytes(&bundle),
        )?;
        let x = bundle.pipeline.transform(events);
        let p: Vec<f32> = bundle.score(events).iter().map(|s| s.probability).collect();
        let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(dir.join("x.f32"), bytes(&x.data))?;
        std::fs::write(dir.join("p.f32"), bytes(&p))?;
        let nan = x.data.iter().filter(|v| v.is_nan()).count();
        cases.push(serde_json::json!({
            "name": name, "model": kind.name(), "dir": dir, "rows": x.n_rows, "cols": x.n_cols, "nan_inputs": nan,
            "threshold": bundle.manifest.threshold.threshold,
        }));
    }
    std::fs::write(out.join("cases.json"), serde_json::to_vec_pretty(&cases)?)?;
    println!("{}", out.join("cases.json").display());
    Ok(())
}
