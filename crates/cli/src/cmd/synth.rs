use crate::args::SynthArgs;
use anyhow::Context;
use lotl_datasets::synth::{ndjson::write_ecs_ndjson, Generator, SynthConfig, TemplateBank};
use lotl_events::{Label, ProcessEvent};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

pub fn run(a: SynthArgs) -> anyhow::Result<ExitCode> {
    if a.output.is_none() && a.ndjson.is_none() {
        anyhow::bail!("nothing to write: give -o <file.parquet> and/or --ndjson <file.ndjson>");
    }
    let mut cfg = match &a.config {
        Some(p) => SynthConfig::from_toml_file(p)?,
        None => SynthConfig::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = a.$f { cfg.$f = v; } )* };
    }
    set!(hosts, days, seed, attack_rate, benign_burst_rate, volume);
    let params = cfg.check()?;
    let bank = match &a.reference {
        Some(dir) => TemplateBank::with_reference(dir)?,
        None => TemplateBank::builtin(),
    };
    if a.reference.is_some() {
        println!("reference templates: {}", bank.from_reference);
    }
    let gen = Generator::new(params, bank);
    let mut ndjson = match &a.ndjson {
        Some(p) => {
            let tmp = tmp_path(p);
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            Some((
                p.clone(),
                tmp,
                std::io::BufWriter::with_capacity(1 << 20, f),
            ))
        }
        None => None,
    };
    let mut all: Vec<ProcessEvent> = Vec::new();
    let mut counts: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut total = 0usize;
    let started = std::time::Instant::now();
    gen.for_each_host_day(|chunk| -> anyhow::Result<()> {
        for e in chunk {
            let l = e.label.unwrap_or(Label::Unknown).as_str();
            *counts
                .entry((e.family.clone().unwrap_or_default().to_string(), l))
                .or_default() += 1;
        }
        total += chunk.len();
        if let Some((_, tmp, w)) = ndjson.as_mut() {
            write_ecs_ndjson(w, chunk).with_context(|| format!("writing {}", tmp.display()))?;
        }
        if a.output.is_some() {
            all.extend_from_slice(chunk);
        }
        Ok(())
    })?;
    if let Some((path, tmp, mut w)) = ndjson {
        w.flush()
            .with_context(|| format!("writing {}", tmp.display()))?;
        drop(w);
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        println!("wrote {total} events to {}", path.display());
    }
    if let Some(out) = &a.output {
        lotl_events::parquet::write_parquet(out, &all)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {total} events to {}", out.display());
    }
    println!("{:<20} {:>10} {:>10}", "family", "label", "events");
    for ((fam, label), n) in &counts {
        println!("{fam:<20} {label:>10} {n:>10}");
    }
    println!("generated in {:.1}s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn tmp_path(p: &std::path::Path) -> std::path::PathBuf {
    let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    p.with_file_name(name)
}
