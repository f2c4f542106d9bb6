use crate::args::{ExportArgs, ExportFormat};
use anyhow::Context;
use lotl_export::Bundle;
use std::process::ExitCode;

pub fn run(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let bundle = Bundle::load(&a.bundle)?;
    match a.format {
        ExportFormat::Elasticsearch => {
            let ex = lotl_export::elasticsearch::write_elasticsearch(
                &bundle,
                &a.output,
                a.model_id.as_deref(),
            )?;
            println!(
                "wrote {} files for Elasticsearch model {} to {} (see README.md there)",
                ex.files.len(),
                ex.model_id,
                a.output.display()
            );
            if !ex.not_expressible.is_empty() {
                eprintln!(
                    "note: the ingest pipeline cannot compute {} of the {} recipe's features; they stay missing in Elasticsearch (listed in README.md)",
                    ex.not_expressible.len(),
                    bundle.manifest.recipe.name
                );
            }
        }
        ExportFormat::Onnx => {
            if a.model_id.is_some() {
                eprintln!("note: --model-id applies to the elasticsearch format only");
            }
            let bytes = lotl_export::onnx::onnx_bytes(&bundle);
            if let Some(dir) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&a.output, &bytes)
                .with_context(|| format!("writing {}", a.output.display()))?;
            println!(
                "wrote {} ({} bytes, {}, input [N, {}]; feature names in its metadata)",
                a.output.display(),
                bytes.len(),
                bundle.model.summary(),
                bundle.pipeline.n_columns()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
