//! Which parent → child pairs a labelled Parquet file holds under each label: the quick
//! way to audit the labelling rule on the real corpus.
//! `cargo run -p lotl-datasets --example label_report -- real.parquet [path-substring] [rows]`

use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: label_report <labelled.parquet> [path-substring] [rows]");
        std::process::exit(2);
    };
    let filter = args.get(2).cloned().unwrap_or_default();
    let rows: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
    let events = match lotl_events::parquet::read_parquet(std::path::Path::new(path)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut pairs: BTreeMap<(&str, String, String), usize> = BTreeMap::new();
    for e in &events {
        if !e.source_file.as_deref().unwrap_or("").contains(&filter) {
            continue;
        }
        let label = e.label.map(|l| l.as_str()).unwrap_or("-");
        let p = e.parent_name.as_deref().unwrap_or("?").to_ascii_lowercase();
        let c = e
            .process_name
            .as_deref()
            .unwrap_or("?")
            .to_ascii_lowercase();
        *pairs.entry((label, p, c)).or_default() += 1;
    }
    let mut v: Vec<_> = pairs.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for ((label, p, c), n) in v.into_iter().take(rows) {
        println!("{n:6} {label:<10} {p} -> {c}");
    }
}
