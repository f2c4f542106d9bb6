use lotl_events::Label;
use std::collections::BTreeMap;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ev = lotl_events::parquet::read_parquet(std::path::Path::new(&args[1])).unwrap();
    let filt = args.get(2).cloned().unwrap_or_default();
    let mut m: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for e in &ev {
        if !e.source_file.as_deref().unwrap_or("").contains(&filt) {
            continue;
        }
        let l = e.label.map(|l| l.as_str()).unwrap_or("-");
        *m.entry((
            l.to_owned(),
            e.parent_name.clone().unwrap_or_default().to_lowercase(),
            e.process_name.clone().unwrap_or_default().to_lowercase(),
        ))
        .or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    for ((l, p, c), n) in v.iter().take(60) {
        println!("{n:5} {l:10} {p} -> {c}");
    }
    let _ = Label::Benign;
}
