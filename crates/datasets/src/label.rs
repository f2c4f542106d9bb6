//! The per-event labelling rule for the real recordings.
//!
//! The public sources label whole files ("this EVTX is a PsExec run"), yet an attack file
//! is mostly lab background. This module turns file labels into event labels:
//!
//! 1. **Benign files** (any path with a `benign` directory component): every event is
//!    `benign`.
//! 2. **Background pairs**: the `(parent name, process name)` pairs seen in the benign
//!    files, plus a short built-in list of Windows plumbing (`services.exe → svchost.exe`,
//!    `svchost.exe → consent.exe`, `winlogon.exe → logonui.exe`, `* → conhost.exe`, ...).
//! 3. **Background** event in an attack file: its pair is a background pair, or it is not
//!    an attacker-favoured image, lives in a trusted location (`C:\Windows\…` outside its
//!    temp folders, `C:\Program Files…`), and its parent is a system process or itself
//!    lives in a trusted location; or its parent is a management/monitoring/update agent
//!    (Splunk forwarder, SCOM, Azure guest agent, SCCM, EDR, updaters); or its parent is
//!    unknown (4688 without a parent name) and it is a non-favoured trusted image.
//! 4. **Attack roots** ("the attack's first process"): every event in an attack file that
//!    is not background and either runs an attacker-favoured image (shells, script hosts,
//!    LOLBins, discovery and credential tools, remote-execution services) or runs from
//!    outside a trusted location (user profiles, temp folders, `ProgramData`, shares).
//!    A file may hold several roots: labs run a technique several times, and the first
//!    root of each process tree is its attack's first process.
//! 5. **Descent**: every process descending from a root is `malicious`, whatever its
//!    pair — the tree is the ground truth, so `cmd.exe → conhost.exe` under an attack is
//!    part of the attack. Parents are found by `parent_entity_id` (Sysmon ProcessGuid),
//!    or, where GUIDs are missing (Security 4688), by host + parent pid + parent image
//!    name, taking the latest process with that pid started before the child.
//! 6. Anything else in an attack file — not background, not a root, not a descendant —
//!    is `unknown`: kept out of training and metrics, and counted.

use lotl_events::{Label, ProcessEvent};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Images attackers favour; a non-background start of one of these is an attack root.
const FAVOURED: &[&str] = &[
    "cmd.exe",
    "powershell.exe",
    "pwsh.exe",
    "powershell_ise.exe",
    "wscript.exe",
    "cscript.exe",
    "mshta.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "msiexec.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "cmstp.exe",
    "installutil.exe",
    "regasm.exe",
    "regsvcs.exe",
    "odbcconf.exe",
    "msbuild.exe",
    "wmic.exe",
    "schtasks.exe",
    "at.exe",
    "reg.exe",
    "sc.exe",
    "net.exe",
    "net1.exe",
    "whoami.exe",
    "nltest.exe",
    "ipconfig.exe",
    "systeminfo.exe",
    "tasklist.exe",
    "netstat.exe",
    "quser.exe",
    "qwinsta.exe",
    "arp.exe",
    "route.exe",
    "nslookup.exe",
    "hostname.exe",
    "psexec.exe",
    "psexec64.exe",
    "psexesvc.exe",
    "procdump.exe",
    "procdump64.exe",
    "ntdsutil.exe",
    "vssadmin.exe",
    "wevtutil.exe",
    "bcdedit.exe",
    "taskkill.exe",
    "netsh.exe",
    "forfiles.exe",
    "hh.exe",
    "mavinject.exe",
    "esentutl.exe",
    "curl.exe",
    "ftp.exe",
    "tftp.exe",
    "winrs.exe",
    "wsmprovhost.exe",
    "dsquery.exe",
    "adfind.exe",
    "csc.exe",
    "control.exe",
    "pcalua.exe",
    "mimikatz.exe",
    "rubeus.exe",
    "sharphound.exe",
    "cipher.exe",
    "fsutil.exe",
    "icacls.exe",
    "takeown.exe",
    "attrib.exe",
    "wusa.exe",
    "msdt.exe",
    "diskshadow.exe",
    "makecab.exe",
    "expand.exe",
    "extrac32.exe",
    "finger.exe",
    "bash.exe",
    "wsl.exe",
    "query.exe",
    "cmdkey.exe",
];

/// Processes whose children are Windows plumbing unless the child is favoured.
const SYSTEM_PARENTS: &[&str] = &[
    "system",
    "smss.exe",
    "csrss.exe",
    "wininit.exe",
    "winlogon.exe",
    "services.exe",
    "svchost.exe",
    "lsass.exe",
    "taskhostw.exe",
    "taskeng.exe",
    "msmpeng.exe",
    "tiworker.exe",
    "trustedinstaller.exe",
    "wuauclt.exe",
    "mousocoreworker.exe",
    "searchindexer.exe",
    "spoolsv.exe",
    "vmtoolsd.exe",
    "wmiprvse.exe",
    "dllhost.exe",
    "userinit.exe",
    "sihost.exe",
];

/// Management, monitoring and update agents: what they start is their own work (Splunk's
/// forwarder runs `cmd.exe` for scripted inputs, SCOM runs `cscript.exe`, the Azure guest
/// agent collects logs with shells). Labs run them beside every attack.
const AGENTS: &[&str] = &[
    "splunkd.exe",
    "splunk.exe",
    "btool.exe",
    "monitoringhost.exe",
    "healthservice.exe",
    "waappagent.exe",
    "windowsazureguestagent.exe",
    "collectguestlogs.exe",
    "managementagenthost.exe",
    "microsoft.management.services.intunewindowsagent.exe",
    "ccmexec.exe",
    "elastic-agent.exe",
    "elastic-endpoint.exe",
    "winlogbeat.exe",
    "osqueryd.exe",
    "amazon-ssm-agent.exe",
    "ssm-agent-worker.exe",
    "ssm-document-worker.exe",
    "taniumclient.exe",
    "vmtoolsd.exe",
    "mssense.exe",
    "sensecncproxy.exe",
    "msmpeng.exe",
    "mpcmdrun.exe",
    "microsoftedgeupdate.exe",
    "googleupdate.exe",
    "onedrivestandaloneupdater.exe",
];

/// Plumbing pairs named in the data README and seen in every lab.
const BUILTIN_PAIRS: &[(&str, &str)] = &[
    ("services.exe", "svchost.exe"),
    ("svchost.exe", "consent.exe"),
    ("winlogon.exe", "logonui.exe"),
    ("winlogon.exe", "userinit.exe"),
    ("userinit.exe", "explorer.exe"),
    ("smss.exe", "smss.exe"),
    ("smss.exe", "csrss.exe"),
    ("smss.exe", "wininit.exe"),
    ("smss.exe", "winlogon.exe"),
    ("wininit.exe", "services.exe"),
    ("wininit.exe", "lsass.exe"),
    ("svchost.exe", "wmiprvse.exe"),
    ("svchost.exe", "dllhost.exe"),
    ("svchost.exe", "taskhostw.exe"),
    ("services.exe", "msiexec.exe"),
    ("msmpeng.exe", "mpcmdrun.exe"),
];

fn lower(s: Option<&str>) -> String {
    s.map(str::to_ascii_lowercase).unwrap_or_default()
}

fn name_of(e: &ProcessEvent) -> String {
    lower(e.process_name.as_deref())
}

fn parent_name_of(e: &ProcessEvent) -> String {
    lower(e.parent_name.as_deref())
}

/// Whether an image path is somewhere only installers and Windows write to.
pub fn trusted_location(exe: &str) -> bool {
    let l = exe.to_ascii_lowercase().replace('/', "\\");
    let l = l.strip_prefix("\\??\\").unwrap_or(&l);
    let l = l
        .strip_prefix("\\systemroot\\")
        .map(|r| format!("c:\\windows\\{r}"))
        .unwrap_or_else(|| l.to_owned());
    let in_windows = l.starts_with("c:\\windows\\")
        && !["temp", "tasks", "debug", "tracing", "installer"]
            .iter()
            .any(|bad| l.starts_with(&format!("c:\\windows\\{bad}\\")));
    in_windows || l.starts_with("c:\\program files\\") || l.starts_with("c:\\program files (x86)\\")
}

/// The rule's knowledge: which pairs count as background.
#[derive(Debug, Clone, Default)]
pub struct LabelRule {
    pairs: HashSet<(String, String)>,
}

impl LabelRule {
    /// Background pairs from the benign events plus the built-in plumbing list.
    pub fn from_benign<'a>(benign: impl IntoIterator<Item = &'a ProcessEvent>) -> LabelRule {
        let mut pairs: HashSet<(String, String)> = BUILTIN_PAIRS
            .iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect();
        for e in benign {
            let (p, c) = (parent_name_of(e), name_of(e));
            if !p.is_empty() && !c.is_empty() {
                pairs.insert((p, c));
            }
        }
        LabelRule { pairs }
    }

    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// Step 3 of the module rule.
    pub fn is_background(&self, e: &ProcessEvent) -> bool {
        let (p, c) = (parent_name_of(e), name_of(e));
        if c == "conhost.exe" || self.pairs.contains(&(p.clone(), c.clone())) {
            return true;
        }
        if AGENTS.contains(&p.as_str()) {
            return true;
        }
        if FAVOURED.contains(&c.as_str()) {
            return false;
        }
        let child_trusted = e
            .process_executable
            .as_deref()
            .is_some_and(trusted_location);
        let parent_unknown = p.is_empty() && e.parent_executable.is_none();
        let parent_ok = parent_unknown
            || SYSTEM_PARENTS.contains(&p.as_str())
            || e.parent_executable.as_deref().is_some_and(trusted_location);
        child_trusted && parent_ok
    }

    /// Step 4 of the module rule.
    pub fn is_root(&self, e: &ProcessEvent) -> bool {
        if self.is_background(e) {
            return false;
        }
        let c = name_of(e);
        if c.is_empty() {
            return false;
        }
        FAVOURED.contains(&c.as_str())
            || !e
                .process_executable
                .as_deref()
                .is_some_and(trusted_location)
    }
}

/// Whether a source file is one of the benign recordings.
pub fn is_benign_file(path: &str) -> bool {
    path.split(['/', '\\'])
        .any(|c| c.eq_ignore_ascii_case("benign"))
}

/// Which source (top folder under `real/`) a file belongs to, for summaries.
pub fn source_group(path: &str) -> String {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    if let Some(i) = parts.iter().position(|p| *p == "real") {
        if let Some(g) = parts.get(i + 1).filter(|_| i + 2 < parts.len()) {
            return (*g).to_owned();
        }
    }
    parts
        .len()
        .checked_sub(2)
        .and_then(|i| parts.get(i))
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| "-".into())
}

/// Counts from one labelling run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelStats {
    /// (source group, label) → events.
    pub per_source: BTreeMap<(String, Label), usize>,
    /// Attack files with no root found (all their non-background events are unknown).
    pub files_without_root: Vec<String>,
    /// Per file: its first root (earliest), as `image (command line)`.
    pub first_roots: BTreeMap<String, String>,
}

impl LabelStats {
    pub fn total(&self, label: Label) -> usize {
        self.per_source
            .iter()
            .filter(|((_, l), _)| *l == label)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Label every event in place (overwriting `label`; `technique` and the rest untouched).
pub fn label_events(events: &mut [ProcessEvent]) -> LabelStats {
    let rule = LabelRule::from_benign(
        events
            .iter()
            .filter(|e| e.source_file.as_deref().is_some_and(is_benign_file)),
    );
    label_with_rule(events, &rule)
}

/// Label with a given rule (tests build small rules by hand).
pub fn label_with_rule(events: &mut [ProcessEvent], rule: &LabelRule) -> LabelStats {
    let mut by_file: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_file
            .entry(e.source_file.as_deref().unwrap_or_default().to_owned())
            .or_default()
            .push(i);
    }
    let mut stats = LabelStats::default();
    for (file, idx) in by_file {
        let group = source_group(&file);
        if is_benign_file(&file) {
            for &i in &idx {
                events[i].label = Some(Label::Benign);
            }
        } else {
            label_attack_file(events, &idx, rule, &file, &mut stats);
        }
        for &i in &idx {
            let l = events[i].label.unwrap_or(Label::Unknown);
            *stats.per_source.entry((group.clone(), l)).or_default() += 1;
        }
    }
    stats
}

/// Resolve each event's parent inside one file: GUID first, then host + pid + image name.
fn resolve_parents(events: &[ProcessEvent], idx: &[usize]) -> HashMap<usize, usize> {
    let mut by_guid: HashMap<(&str, &str), usize> = HashMap::new();
    let mut by_pid: HashMap<(&str, i64), Vec<usize>> = HashMap::new();
    for &i in idx {
        let e = &events[i];
        if let Some(g) = e.process_entity_id.as_deref() {
            by_guid.insert((e.host_name.as_str(), g), i);
        }
        if let Some(p) = e.process_pid {
            by_pid.entry((e.host_name.as_str(), p)).or_default().push(i);
        }
    }
    for v in by_pid.values_mut() {
        v.sort_by_key(|&i| events[i].timestamp_ms);
    }
    let mut parent = HashMap::new();
    for &i in idx {
        let e = &events[i];
        let host = e.host_name.as_str();
        let by_g = e
            .parent_entity_id
            .as_deref()
            .and_then(|g| by_guid.get(&(host, g)).copied());
        let found = by_g.or_else(|| {
            let pid = e.parent_pid?;
            let want = parent_name_of(e);
            by_pid
                .get(&(host, pid))?
                .iter()
                .rev()
                .find(|&&j| {
                    j != i
                        && events[j].timestamp_ms <= e.timestamp_ms
                        && (want.is_empty() || name_of(&events[j]) == want)
                })
                .copied()
        });
        if let Some(p) = found.filter(|&p| p != i) {
            parent.insert(i, p);
        }
    }
    parent
}

fn label_attack_file(
    events: &mut [ProcessEvent],
    idx: &[usize],
    rule: &LabelRule,
    file: &str,
    stats: &mut LabelStats,
) {
    let parent = resolve_parents(events, idx);
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&c, &p) in &parent {
        children.entry(p).or_default().push(c);
    }
    let mut roots: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| rule.is_root(&events[i]))
        .collect();
    roots.sort_by_key(|&i| (events[i].timestamp_ms, i));
    match roots.first() {
        Some(&r) => {
            let e = &events[r];
            stats.first_roots.insert(
                file.to_owned(),
                format!(
                    "{} ({})",
                    e.process_name.as_deref().unwrap_or("?"),
                    e.process_command_line.as_deref().unwrap_or("")
                ),
            );
        }
        None => stats.files_without_root.push(file.to_owned()),
    }
    let mut malicious: HashSet<usize> = HashSet::new();
    let mut stack = roots;
    while let Some(i) = stack.pop() {
        if malicious.insert(i) {
            if let Some(cs) = children.get(&i) {
                stack.extend(cs.iter().copied());
            }
        }
    }
    for &i in idx {
        let l = if malicious.contains(&i) {
            Label::Malicious
        } else if rule.is_background(&events[i]) {
            Label::Benign
        } else {
            Label::Unknown
        };
        events[i].label = Some(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(
        file: &str,
        guid: &str,
        parent_guid: &str,
        parent: &str,
        exe: &str,
        t: i64,
    ) -> ProcessEvent {
        let mut e = ProcessEvent {
            timestamp_ms: t,
            host_name: "LAB1".into(),
            process_entity_id: (!guid.is_empty()).then(|| guid.into()),
            parent_entity_id: (!parent_guid.is_empty()).then(|| parent_guid.into()),
            process_executable: Some(exe.into()),
            parent_executable: Some(parent.into()),
            source_file: Some(file.into()),
            ..Default::default()
        };
        e.complete();
        e
    }

    const ATK: &str = "/d/real/evtx-attack-samples/Execution/x.evtx";
    const BEN: &str = "/d/real/benign/ws.evtx";
    const S32: &str = r"C:\Windows\System32\";

    fn s32(n: &str) -> String {
        format!("{S32}{n}")
    }

    #[test]
    fn descent_from_the_first_process_with_background_around_it() {
        let mut evs = vec![
            // Benign file: teaches explorer → cmd and svchost → taskhostw.
            ev(
                BEN,
                "b1",
                "b0",
                r"C:\Windows\explorer.exe",
                &s32("cmd.exe"),
                1,
            ),
            ev(
                BEN,
                "b2",
                "b0",
                &s32("svchost.exe"),
                &s32("taskhostw.exe"),
                2,
            ),
            // Attack file: lab background ...
            ev(
                ATK,
                "a1",
                "a0",
                &s32("services.exe"),
                &s32("svchost.exe"),
                10,
            ),
            ev(
                ATK,
                "a2",
                "a1",
                &s32("svchost.exe"),
                &s32("taskhostw.exe"),
                11,
            ),
            ev(
                ATK,
                "a3",
                "a1",
                &s32("svchost.exe"),
                &s32("consent.exe"),
                12,
            ),
            // ... the operator's console (a background pair) ...
            ev(
                ATK,
                "a4",
                "ax",
                r"C:\Windows\explorer.exe",
                &s32("cmd.exe"),
                20,
            ),
            // ... the attack: a payload from the user's profile, and its tree.
            ev(
                ATK,
                "a5",
                "a4",
                &s32("cmd.exe"),
                r"C:\Users\bob\Desktop\payload.exe",
                21,
            ),
            ev(
                ATK,
                "a6",
                "a5",
                r"C:\Users\bob\Desktop\payload.exe",
                &s32("cmd.exe"),
                22,
            ),
            ev(ATK, "a7", "a6", &s32("cmd.exe"), &s32("conhost.exe"), 23),
            ev(ATK, "a8", "a6", &s32("cmd.exe"), &s32("whoami.exe"), 24),
            ev(ATK, "a9", "a6", &s32("cmd.exe"), &s32("notepad.exe"), 25),
            // Undecidable: a non-plumbing child of an unresolved, untrusted parent.
            ev(
                ATK,
                "a10",
                "zz",
                r"D:\tools\weird.exe",
                &s32("notepad.exe"),
                30,
            ),
        ];
        let stats = label_events(&mut evs);
        let l: Vec<Label> = evs.iter().map(|e| e.label.unwrap()).collect();
        use Label::*;
        assert_eq!(
            l,
            vec![
                Benign, Benign, Benign, Benign, Benign, Benign, Malicious, Malicious, Malicious,
                Malicious, Malicious, Unknown
            ]
        );
        assert_eq!(
            stats.per_source[&("evtx-attack-samples".to_owned(), Malicious)],
            5
        );
        assert_eq!(
            stats.per_source[&("evtx-attack-samples".to_owned(), Unknown)],
            1
        );
        assert_eq!(stats.per_source[&("benign".to_owned(), Benign)], 2);
        assert!(stats.first_roots[ATK].starts_with("payload.exe"));
    }

    #[test]
    fn lolbin_under_a_system_parent_is_a_root_unless_benign_files_show_the_pair() {
        let mut evs = vec![
            ev(
                ATK,
                "w1",
                "w0",
                &s32("wbem\\WmiPrvSE.exe"),
                &s32("WindowsPowerShell\\v1.0\\powershell.exe"),
                5,
            ),
            ev(
                ATK,
                "w2",
                "w1",
                &s32("WindowsPowerShell\\v1.0\\powershell.exe"),
                &s32("net.exe"),
                6,
            ),
            ev(
                ATK,
                "w3",
                "w0",
                &s32("svchost.exe"),
                &s32("rundll32.exe"),
                7,
            ),
        ];
        let rule = LabelRule::from_benign(&[ev(
            BEN,
            "b",
            "a",
            &s32("svchost.exe"),
            &s32("rundll32.exe"),
            1,
        )]);
        label_with_rule(&mut evs, &rule);
        assert_eq!(evs[0].label, Some(Label::Malicious));
        assert_eq!(evs[1].label, Some(Label::Malicious));
        assert_eq!(
            evs[2].label,
            Some(Label::Benign),
            "pair seen in the benign recordings"
        );
    }

    #[test]
    fn without_guids_parents_are_found_by_pid_name_and_time() {
        let mk = |pid: i64, ppid: i64, parent: &str, exe: &str, t: i64| {
            let mut e = ev(ATK, "", "", parent, exe, t);
            e.process_pid = Some(pid);
            e.parent_pid = Some(ppid);
            e
        };
        let mut evs = vec![
            // pid 100 is first a benign process, later reused by the attacker's cmd.
            mk(100, 4, &s32("services.exe"), &s32("svchost.exe"), 1),
            mk(100, 50, r"C:\Windows\explorer.exe", &s32("cmd.exe"), 10),
            mk(200, 100, &s32("cmd.exe"), &s32("whoami.exe"), 11),
            mk(300, 100, &s32("svchost.exe"), &s32("taskhostw.exe"), 5),
            mk(400, 200, &s32("whoami.exe"), &s32("conhost.exe"), 12),
        ];
        let rule = LabelRule::from_benign(&[]);
        label_with_rule(&mut evs, &rule);
        use Label::*;
        let l: Vec<Label> = evs.iter().map(|e| e.label.unwrap()).collect();
        assert_eq!(l, vec![Benign, Malicious, Malicious, Benign, Malicious]);
    }

    #[test]
    fn attack_file_without_any_root_is_reported_and_undecided_events_are_unknown() {
        let mut evs = vec![
            ev(
                ATK,
                "x1",
                "x0",
                &s32("services.exe"),
                &s32("svchost.exe"),
                1,
            ),
            ev(
                ATK,
                "x2",
                "x9",
                r"C:\Users\a\app.exe",
                &s32("notepad.exe"),
                2,
            ),
        ];
        let stats = label_with_rule(&mut evs, &LabelRule::from_benign(&[]));
        assert_eq!(stats.files_without_root, vec![ATK.to_owned()]);
        assert_eq!(evs[1].label, Some(Label::Unknown));
        assert_eq!(stats.total(Label::Unknown), 1);
    }

    #[test]
    fn agents_children_and_parentless_system_images_are_background() {
        let mut evs = vec![
            ev(
                ATK,
                "s1",
                "s0",
                r"C:\Program Files\SplunkUniversalForwarder\bin\splunkd.exe",
                &s32("cmd.exe"),
                1,
            ),
            ev(
                ATK,
                "s2",
                "s1",
                &s32("cmd.exe"),
                r"C:\Program Files\SplunkUniversalForwarder\bin\btool.exe",
                2,
            ),
            ev(ATK, "s3", "", "", &s32("dllhost.exe"), 3),
            ev(ATK, "s4", "", "", &s32("whoami.exe"), 4),
        ];
        evs[2].parent_executable = None;
        evs[3].parent_executable = None;
        label_with_rule(&mut evs, &LabelRule::from_benign(&[]));
        let l: Vec<Label> = evs.iter().map(|e| e.label.unwrap()).collect();
        assert_eq!(
            l,
            vec![
                Label::Benign,
                Label::Benign,
                Label::Benign,
                Label::Malicious
            ]
        );
    }

    #[test]
    fn trusted_locations() {
        assert!(trusted_location(r"C:\Windows\System32\cmd.exe"));
        assert!(trusted_location(r"\SystemRoot\System32\smss.exe"));
        assert!(trusted_location(
            r"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe"
        ));
        assert!(!trusted_location(r"C:\Windows\Temp\lsass.exe"));
        assert!(!trusted_location(r"C:\Users\Public\svchost.exe"));
        assert!(!trusted_location(r"C:\ProgramData\x.exe"));
        assert_eq!(
            source_group("/w/shared/datasets/real/deepbluecli/a.evtx"),
            "deepbluecli"
        );
        assert_eq!(
            source_group("/w/shared/datasets/real/evtx-attack-samples/Execution/a.evtx"),
            "evtx-attack-samples"
        );
        assert!(is_benign_file("/w/real/benign/x.evtx"));
    }
}
