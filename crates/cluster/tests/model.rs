use lotl_cluster::{fit_cluster, ClusterConfig, ClusterModel, ScoredEvent};
use lotl_events::ProcessEvent;

const MIN: i64 = 60_000;
const BUCKET: i64 = 15 * MIN;
const DAY: i64 = 1440 * MIN;
const T0: i64 = 1_767_571_200_000; // Monday

fn ev(t: i64, id: u64, parent: &str, child: &str, p: f32) -> ScoredEvent {
    let mut event = ProcessEvent {
        timestamp_ms: t,
        event_id: format!("e{id}").into(),
        host_name: format!("h{}", id % 3).into(),
        process_name: Some(child.into()),
        parent_name: Some(parent.into()),
        user_name: Some("u".into()),
        ..Default::default()
    };
    event.complete();
    ScoredEvent {
        event,
        prediction: u8::from(p >= 0.5),
        probability: p,
        top_features: vec![],
    }
}

/// `days` of history: parent `i` has one child at 0.6 every `period[i]` buckets.
fn history(days: i64) -> Vec<ScoredEvent> {
    let parents = [
        ("explorer.exe", 2),
        ("cmd.exe", 5),
        ("svchost.exe", 9),
        ("winword.exe", 40),
    ];
    let mut out = Vec::new();
    let mut id = 0;
    for b in 0..days * 96 {
        for (k, (p, period)) in parents.iter().enumerate() {
            if (b + k as i64) % period == 0 {
                id += 1;
                out.push(ev(
                    T0 - days * DAY + b * BUCKET + 60_000,
                    id,
                    p,
                    "rundll32.exe",
                    0.6,
                ));
            }
        }
    }
    out
}

fn score_of(
    model: &mut ClusterModel,
    bucket: i64,
    events: &[ScoredEvent],
    job: &str,
    value: &str,
) -> f64 {
    let recs = model.observe_bucket(bucket, events).unwrap();
    recs.iter()
        .find(|r| r.job == job && r.by_value == value)
        .map(|r| r.initial_record_score)
        .unwrap_or(0.0)
}

#[test]
fn fitting_is_deterministic_and_survives_json() {
    let h = history(5);
    let a = fit_cluster(&h, ClusterConfig::default()).unwrap();
    let mut shuffled = h.clone();
    shuffled.reverse();
    let b = fit_cluster(&shuffled, ClusterConfig::default()).unwrap();
    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    a.save(&path).unwrap();
    let c = ClusterModel::load(&path).unwrap();
    assert_eq!(c, a);
    assert_eq!(
        a.series_count(a.job_index("high_sum_by_parent").unwrap()),
        4
    );
}

#[test]
fn bursts_score_high_and_ordinary_buckets_low() {
    let mut m = fit_cluster(&history(7), ClusterConfig::default()).unwrap();
    let b = T0 + 10 * 60 * MIN;
    // Ordinary: one child at 0.6 under explorer.
    assert!(
        score_of(
            &mut m,
            b,
            &[ev(b + 1, 1, "explorer.exe", "x.exe", 0.6)],
            "high_sum_by_parent",
            "explorer.exe"
        ) < 25.0
    );
    // Burst under a quiet parent.
    let burst: Vec<_> = (0..8)
        .map(|i| {
            ev(
                b + BUCKET + i,
                10 + i as u64,
                "winword.exe",
                "mshta.exe",
                0.95,
            )
        })
        .collect();
    let s = score_of(
        &mut m,
        b + BUCKET,
        &burst,
        "high_sum_by_parent",
        "winword.exe",
    );
    assert!(s >= 75.0, "{s}");
}

#[test]
fn new_parents_borrow_strength_from_the_population() {
    let mut m = fit_cluster(&history(7), ClusterConfig::default()).unwrap();
    let b = T0;
    // Never seen before: one child at typical probability is unremarkable …
    let one = [ev(b + 5, 1, "newtool.exe", "cmd.exe", 0.6)];
    let low = score_of(&mut m, b, &one, "high_sum_by_parent", "newtool.exe");
    assert!(low < 30.0, "{low}");
    // … a dozen at 0.95 from another unseen parent is not.
    let many: Vec<_> = (0..12)
        .map(|i| ev(b + BUCKET + i, 2 + i as u64, "other.exe", "cmd.exe", 0.95))
        .collect();
    let high = score_of(&mut m, b + BUCKET, &many, "high_sum_by_parent", "other.exe");
    assert!(high >= 75.0, "{high}");
}

#[test]
fn slow_bursts_are_caught_by_the_multi_bucket_window() {
    let mut m = fit_cluster(&history(7), ClusterConfig::default()).unwrap();
    // winword (one child every 40 buckets) gets 2 children in each of 6 consecutive buckets.
    let mut last = None;
    for k in 0..6 {
        let b = T0 + k * BUCKET;
        let evs = [
            ev(b + 1, 100 + 2 * k as u64, "winword.exe", "a.exe", 0.8),
            ev(b + 2, 101 + 2 * k as u64, "winword.exe", "b.exe", 0.8),
        ];
        let recs = m.observe_bucket(b, &evs).unwrap();
        last = recs.into_iter().find(|r| r.job == "high_sum_by_parent");
    }
    let r = last.unwrap();
    assert!(r.multi_bucket_impact > 0.0, "{r:?}");
    assert!(r.initial_record_score >= 75.0, "{r:?}");
}

#[test]
fn hour_of_day_effects_once_history_supports_them() {
    // A parent active every bucket of working hours (08–18) for three weeks, never at night.
    let mut h = Vec::new();
    let mut id = 0;
    for d in 0..21 {
        for q in 0..96 {
            let t = T0 - (21 - d) * DAY + q * BUCKET;
            let hour = q / 4;
            if (8..18).contains(&hour) {
                id += 1;
                h.push(ev(t + 1, id, "backup.exe", "robocopy.exe", 0.6));
            }
            if q % 7 == 0 {
                id += 1;
                h.push(ev(t + 2, id, "cmd.exe", "x.exe", 0.6));
            }
        }
    }
    let m = fit_cluster(&h, ClusterConfig::default()).unwrap();
    let day = [ev(
        T0 + 10 * 60 * MIN + 5,
        1,
        "backup.exe",
        "robocopy.exe",
        0.6,
    )];
    let night = [ev(
        T0 + 3 * 60 * MIN + 5,
        2,
        "backup.exe",
        "robocopy.exe",
        0.6,
    )];
    let p = |bucket: i64, e: &[ScoredEvent]| {
        let refs: Vec<&ScoredEvent> = e.iter().collect();
        m.score_bucket(bucket, &refs)
            .unwrap()
            .into_iter()
            .find(|r| r.job == "high_sum_by_parent")
            .unwrap()
            .probability
    };
    let (pd, pn) = (p(T0 + 10 * 60 * MIN, &day), p(T0 + 3 * 60 * MIN, &night));
    assert!(pn < pd / 2.0, "night {pn} vs day {pd}");
}

#[test]
fn rare_jobs_flag_a_new_name_in_a_busy_partition() {
    let m0 = fit_cluster(&history(7), ClusterConfig::default()).unwrap();
    let mut m = m0.clone();
    let b = T0;
    let recs = m
        .observe_bucket(
            b,
            &[
                ev(b + 1, 1, "explorer.exe", "rundll32.exe", 0.6),
                ev(b + 2, 2, "explorer.exe", "psexec.exe", 0.6),
            ],
        )
        .unwrap();
    let rare = |name: &str| {
        recs.iter()
            .find(|r| r.job == "rare_process_by_parent" && r.by_value == name)
            .unwrap()
            .raw_score
    };
    assert!(rare("psexec.exe") > rare("rundll32.exe") + 2.0);
    assert_eq!(
        recs.iter()
            .find(|r| r.job == "rare_process_by_parent")
            .unwrap()
            .partition_value
            .as_deref(),
        Some("explorer.exe")
    );
}

#[test]
fn bad_bucket_order_and_membership_are_errors() {
    let mut m = ClusterModel::new(ClusterConfig::default().check().unwrap());
    m.observe_bucket(T0 + BUCKET, &[]).unwrap();
    let e = m.observe_bucket(T0, &[]).unwrap_err().to_string();
    assert!(e.contains("time order"), "{e}");
    let e = m
        .observe_bucket(T0 + 3 * BUCKET, &[ev(T0, 7, "a", "b", 0.9)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("e7"), "{e}");
    // Events the datafeed rejects produce no records.
    let recs = m
        .observe_bucket(T0 + 4 * BUCKET, &[ev(T0 + 4 * BUCKET, 8, "a", "b", 0.3)])
        .unwrap();
    assert!(recs.is_empty());
}

#[test]
fn rewinding_moves_history_back_by_whole_weeks_and_scores_as_if_shifted() {
    let model = fit_cluster(&history(10), ClusterConfig::default()).unwrap();
    let last = model.last_bucket_ms().unwrap();
    // A replay starting three days before the history ends: one week back is enough.
    let start = T0 - 3 * DAY + 7 * BUCKET;
    let burst: Vec<ScoredEvent> = (0..8)
        .map(|i| {
            ev(
                start + 1_000 * i,
                900 + i as u64,
                "winword.exe",
                "cmd.exe",
                0.95,
            )
        })
        .collect();
    let mut rewound = model.clone();
    assert_eq!(rewound.rewind_before(start), 1);
    assert_eq!(rewound.last_bucket_ms(), Some(last - 7 * DAY));
    assert!(rewound.observe_bucket(start, &burst).is_ok());
    assert!(model.clone().observe_bucket(start, &burst).is_err());

    // The same burst one week later against the original model scores identically.
    let later: Vec<ScoredEvent> = burst
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.event.timestamp_ms += 7 * DAY;
            e
        })
        .collect();
    let mut original = model.clone();
    let mut rewound = model.clone();
    rewound.rewind_before(start);
    let x = score_of(
        &mut rewound,
        start,
        &burst,
        "high_sum_by_parent",
        "winword.exe",
    );
    let y = score_of(
        &mut original,
        start + 7 * DAY,
        &later,
        "high_sum_by_parent",
        "winword.exe",
    );
    assert!(x > 0.0);
    assert_eq!(x.to_bits(), y.to_bits());
    // Nothing to do when the replay starts after the history.
    assert_eq!(model.clone().rewind_before(last + BUCKET), 0);
}
