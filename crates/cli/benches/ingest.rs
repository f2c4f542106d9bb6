//! Ingest throughput, on one core and on all: `cargo bench -p lotl --bench ingest`.
//!
//! 1. ECS NDJSON in Elastic Defend's shape (generated here, ~1.4 KB per document).
//! 2. EVTX: the real files under ../shared/datasets/real, lotl's reader against the evtx
//!    crate's own JSON output (`records_json`) over the same files, both on one thread.

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lotl_events::{read_paths, read_paths_streaming, ReadOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

fn defend_doc(i: usize) -> String {
    format!(
        r#"{{"@timestamp":"2024-03-0{d}T10:{m:02}:{s:02}.{ms:03}Z","agent":{{"id":"4c9c9cb3-f80f-44d8-9c89-6168243b7f21","type":"endpoint","version":"8.12.0"}},"event":{{"id":"MrKl{i:08}","kind":"event","category":["process"],"type":["start"],"action":"start","dataset":"endpoint.events.process","module":"endpoint"}},"host":{{"name":"ws-{h:04}.corp.example","id":"b3f0c1d2-{h:04}-4e5f-8a9b-0c1d2e3f4a5b","os":{{"type":"windows","family":"windows","platform":"windows","name":"Windows","version":"22H2"}}}},"process":{{"pid":{pid},"entity_id":"NGM5YzljYjMtZjgwZi00NGQ4LTljODktNjE2ODI0M2I3ZjIx-{i}","name":"svchost.exe","executable":"C:\\Windows\\System32\\svchost.exe","command_line":"C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule","args":["C:\\Windows\\system32\\svchost.exe","-k","netsvcs","-p","-s","Schedule"],"pe":{{"original_file_name":"svchost.exe","company":"Microsoft Corporation"}},"code_signature":{{"exists":true,"trusted":true,"subject_name":"Microsoft Windows Publisher","status":"trusted"}},"hash":{{"sha256":"643ec58e82e0272c97c2a59f6020970d881af19c0ad5029db9c958c13b6558c7"}},"Ext":{{"token":{{"integrity_level_name":"system","elevation":true,"elevation_type":"default"}}}},"parent":{{"pid":{ppid},"entity_id":"NGM5YzljYjMtZjgwZi00NGQ4LTljODktNjE2ODI0M2I3ZjIx-p{i}","name":"services.exe","executable":"C:\\Windows\\System32\\services.exe","command_line":"C:\\Windows\\system32\\services.exe","args":["C:\\Windows\\system32\\services.exe"]}}}},"user":{{"name":"SYSTEM","domain":"NT AUTHORITY","id":"S-1-5-18"}}}}"#,
        d = 1 + i % 7,
        m = i % 60,
        s = (i / 60) % 60,
        ms = i % 1000,
        h = i % 500,
        pid = 1000 + i % 60000,
        ppid = 600 + i % 300,
    )
}

/// CPU seconds this process has used (user + system), from /proc: on a shared virtual
/// machine the wall clock also counts time other guests took from us.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `)`.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; 100 Hz.
    (ticks(11) + ticks(12)) / 100.0
}

/// Best wall time and best CPU time over `runs`, and the last result.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let (wall, _, last) = best_of_cpu(runs, &mut f);
    (wall, last)
}

fn best_of_cpu<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let c = cpu_secs();
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_secs() - c);
        last = Some(r);
    }
    (best, best_cpu, last.expect("at least one run"))
}

fn main() {
    // `ECS_DOCS` and `RUNS` shrink the ECS part for an instruction count under callgrind.
    let env_usize = |k: &str, default: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = env_usize("ECS_DOCS", 200_000);
    let ecs_runs = env_usize("RUNS", 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("defend.ndjson");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for i in 0..n {
            writeln!(w, "{}", defend_doc(i)).expect("write");
        }
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    // One core: rayon's pool (which parses JSON lines in batches) held to one thread.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool");
    let mb_per_s = |secs: f64| size as f64 / secs / 1e6;
    // `ONLY=ecs|parquet|evtx`: run that part alone (for `perf record`).
    let only = std::env::var("ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    for (label, pool) in [("one core", Some(&one)), ("all cores", None)] {
        if !runs("ecs") {
            break;
        }
        let run = |f: &(dyn Fn() + Sync)| match pool {
            Some(p) => p.install(f),
            None => f(),
        };
        // Streaming, as `lotl ingest` reads: batches handed on (here: dropped), memory reused.
        let (secs, cpu, _) = best_of_cpu(ecs_runs, || {
            run(&|| {
                let mut kept = 0usize;
                read_paths_streaming(
                    std::slice::from_ref(&path),
                    &ReadOptions::default(),
                    &mut |_| {},
                    &mut |batch| {
                        kept += batch.len();
                        Ok(())
                    },
                )
                .expect("read");
                assert_eq!(kept, n);
            })
        });
        println!(
            "ecs-ndjson (Elastic Defend shape, {:.0} B/doc), {label}, streaming: {:.0} events/s ({:.1} MB/s), {n} events in {:.3}s; per CPU second used: {:.0} events/s",
            size as f64 / n as f64,
            n as f64 / secs,
            mb_per_s(secs),
            secs,
            n as f64 / cpu,
        );
        // Collected into one vector, as `lotl detect` reads raw events.
        if ecs_runs < 3 {
            break;
        }
        let (secs, _) = best_of(3, || {
            run(&|| {
                let out =
                    read_paths(std::slice::from_ref(&path), &ReadOptions::default()).expect("read");
                assert_eq!(out.events.len(), n);
            })
        });
        println!(
            "ecs-ndjson, {label}, collected: {:.0} events/s ({:.1} MB/s)",
            n as f64 / secs,
            mb_per_s(secs),
        );
    }
    if runs("parquet") {
        // The whole of `lotl ingest` but the terminal: read, build row groups, write Parquet.
        let out_path = dir.path().join("events.parquet");
        let (secs, _) = best_of(3, || {
            one.install(|| {
                let (_, written) = lotl_events::parquet::ingest(
                    std::slice::from_ref(&path),
                    &ReadOptions::default(),
                    &out_path,
                    &mut |_| {},
                )
                .expect("ingest");
                assert_eq!(written, n);
            })
        });
        println!(
            "ecs-ndjson to Parquet (lotl ingest, one reader thread): {:.0} events/s ({:.1} MB/s)",
            n as f64 / secs,
            mb_per_s(secs)
        );
    }

    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/real");
    if !runs("evtx") {
        return;
    }
    if !shared.is_dir() {
        println!("evtx: skipped, {} not found", shared.display());
        return;
    }
    let files = lotl_events::read::expand_paths(&[shared]).expect("walk");
    let evtx_files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "evtx"))
        .collect();
    // Each pass takes ~50 ms: best of many, for both sides, to see through the noise.
    let evtx_runs = 15;
    let (ours, out) = best_of(evtx_runs, || {
        read_paths(
            &evtx_files,
            &ReadOptions {
                evtx_threads: 1,
                ..Default::default()
            },
        )
        .expect("read")
    });
    let records: u64 = out.stats.by_format.values().map(|s| s.records).sum();
    let (theirs, n_json) = best_of(evtx_runs, || {
        let mut n = 0usize;
        for f in &evtx_files {
            let Ok(p) = evtx::EvtxParser::from_path(f) else {
                continue;
            };
            let mut p = p.with_configuration(evtx::ParserSettings::new().num_threads(1));
            for r in p.records_json().flatten() {
                n += r.data.len().min(1);
            }
        }
        n
    });
    println!(
        "evtx ({} files, {records} records): lotl {:.0} records/s ({:.3}s) vs evtx records_json {:.0} records/s ({:.3}s, {n_json} records): ratio {:.2}",
        evtx_files.len(),
        records as f64 / ours,
        ours,
        n_json as f64 / theirs,
        theirs,
        theirs / ours
    );
}
