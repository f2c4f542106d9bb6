//! The fleet (hosts, users) and the per-host-day process table that turns "spawn this
//! under that parent" into fully populated [`ProcessEvent`]s.

use super::config::{Role, SynthParams};
use super::telemetry::HostTelemetry;
use lotl_events::{EventSource, Label, ProcessEvent, Text, ToCompactString};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

pub const DOMAIN: &str = "CORP";
pub const DNS_DOMAIN: &str = "corp.contoso.com";
const DOMAIN_SID: &str = "S-1-5-21-3623811015-3361044348-30300820";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Human,
    Admin,
    Service,
    System,
    LocalService,
    NetworkService,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub domain: String,
    pub sid: String,
    pub kind: UserKind,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub id: String,
    pub role: Role,
    pub ip: String,
    /// The human who works here (workstations) — index into [`Fleet::users`].
    pub primary: Option<usize>,
    /// Admins who log on here now and then.
    pub admins: Vec<usize>,
    /// Service account running this host's line-of-business or CI service.
    pub service: Option<usize>,
    /// The source this host's process starts arrive through.
    pub telemetry: HostTelemetry,
}

/// Index of the three built-in accounts in [`Fleet::users`].
pub const SYSTEM: usize = 0;
pub const LOCAL_SERVICE: usize = 1;
pub const NETWORK_SERVICE: usize = 2;

#[derive(Debug, Clone)]
pub struct Fleet {
    pub hosts: Vec<Host>,
    pub users: Vec<User>,
    pub server_names: Vec<String>,
    pub dc_names: Vec<String>,
}

const FIRST: &[&str] = &[
    "james",
    "mary",
    "robert",
    "patricia",
    "john",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "lisa",
    "daniel",
    "nancy",
    "matthew",
    "betty",
    "anthony",
    "sandra",
    "mark",
    "ashley",
    "paul",
    "emily",
    "steven",
    "kimberly",
    "andrew",
    "donna",
    "joshua",
    "michelle",
    "kevin",
    "carol",
    "brian",
    "amanda",
    "george",
    "melissa",
    "timothy",
    "deborah",
    "ravi",
    "mei",
    "olga",
    "ahmed",
    "sofia",
    "lukas",
    "yuki",
    "fatima",
    "pedro",
];
const LAST: &[&str] = &[
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "patel",
    "kumar",
    "chen",
    "wang",
    "novak",
    "schmidt",
    "tanaka",
    "okafor",
    "silva",
];

impl Fleet {
    /// Build the fleet from the seed alone, so every host-day sees the same hosts and users.
    pub fn new(p: &SynthParams) -> Fleet {
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed ^ 0x5EED_F1EE7);
        let mut users = vec![
            builtin("SYSTEM", "S-1-5-18", UserKind::System),
            builtin("LOCAL SERVICE", "S-1-5-19", UserKind::LocalService),
            builtin("NETWORK SERVICE", "S-1-5-20", UserKind::NetworkService),
        ];
        let mut rid = 1104u32;
        let mut add = |users: &mut Vec<User>, name: String, kind| {
            rid += 1 + (name.len() as u32 % 7);
            users.push(User {
                name,
                domain: DOMAIN.into(),
                sid: format!("{DOMAIN_SID}-{rid}"),
                kind,
            });
            users.len() - 1
        };
        let n_admins = (p.hosts as usize / 25).clamp(2, 12);
        let admins: Vec<usize> = (0..n_admins)
            .map(|i| {
                let f = FIRST[(i * 7 + 3) % FIRST.len()];
                let l = LAST[(i * 5 + 1) % LAST.len()];
                add(&mut users, format!("adm-{}{}", &f[..1], l), UserKind::Admin)
            })
            .collect();
        let services: Vec<usize> = [
            "svc-build",
            "svc-sql",
            "svc-backup",
            "svc-erp",
            "svc-monitor",
        ]
        .iter()
        .map(|n| add(&mut users, (*n).to_owned(), UserKind::Service))
        .collect();
        let mut hosts = Vec::with_capacity(p.hosts as usize);
        let mut counters = [0u32; 4];
        let mut used_names = std::collections::BTreeSet::new();
        for i in 0..p.hosts as usize {
            let role = if i == 0 {
                Role::DomainController
            } else {
                pick(&mut rng, &p.roles)
            };
            let k = role as usize;
            counters[k] += 1;
            let name = match role {
                Role::Workstation => format!("WKS-{:04}", 1000 + counters[k] * 7 % 9000),
                Role::Server => format!("SRV-APP{:02}", counters[k]),
                Role::DomainController => format!("DC{:02}", counters[k]),
                Role::BuildServer => format!("BLD-{:02}", counters[k]),
            };
            let name = if used_names.insert(name.clone()) {
                name
            } else {
                format!("{name}-{i}")
            };
            let primary = (role == Role::Workstation).then(|| {
                let f = FIRST[rng.random_range(0..FIRST.len())];
                let l = LAST[rng.random_range(0..LAST.len())];
                let n = format!("{f}.{l}");
                match users.iter().position(|u| u.name == n) {
                    Some(ix) => ix,
                    None => add(&mut users, n, UserKind::Human),
                }
            });
            let host_admins: Vec<usize> =
                (0..2).map(|j| admins[(i + j * 3) % admins.len()]).collect();
            let service = match role {
                Role::BuildServer => Some(services[0]),
                Role::Server => Some(services[1 + i % 3]),
                Role::DomainController => Some(services[2]),
                Role::Workstation => None,
            };
            let hi = xxhash_rust::xxh3::xxh3_128(format!("{}/{name}", p.seed).as_bytes());
            let draw = |what: &str| {
                let h = xxhash_rust::xxh3::xxh3_64(format!("{}/{name}/{what}", p.seed).as_bytes());
                (h >> 11) as f64 / (1u64 << 53) as f64
            };
            let telemetry =
                HostTelemetry::pick(&p.telemetry, draw("source"), draw("collector"), draw("os"));
            hosts.push(Host {
                telemetry,
                id: uuid_from(hi),
                ip: format!("10.{}.{}.{}", 10 + k, (i / 250) % 250, 10 + i % 240),
                name,
                role,
                primary,
                admins: host_admins,
                service,
            });
        }
        let server_names = hosts
            .iter()
            .filter(|h| h.role != Role::Workstation)
            .map(|h| h.name.clone())
            .collect();
        let dc_names = hosts
            .iter()
            .filter(|h| h.role == Role::DomainController)
            .map(|h| h.name.clone())
            .collect();
        Fleet {
            hosts,
            users,
            server_names,
            dc_names,
        }
    }
}

fn builtin(name: &str, sid: &str, kind: UserKind) -> User {
    User {
        name: name.into(),
        domain: "NT AUTHORITY".into(),
        sid: sid.into(),
        kind,
    }
}

pub fn uuid_from(h: u128) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (h >> 96) as u32,
        (h >> 80) as u16,
        (h >> 64) as u16,
        (h >> 48) as u16,
        (h & 0xFFFF_FFFF_FFFF) as u64
    )
}

/// Weighted choice over normalised weights.
pub fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let mut x: f64 = rng.random();
    for (t, w) in items {
        if x < *w {
            return *t;
        }
        x -= w;
    }
    items
        .iter()
        .rev()
        .find(|i| i.1 > 0.0)
        .unwrap_or(&items[0])
        .0
}

/// Poisson draw (Knuth) for small means; normal approximation above 30.
pub fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        return (mean + z * mean.sqrt()).round().max(0.0) as u32;
    }
    let l = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Il {
    Low,
    Medium,
    High,
    System,
}

impl Il {
    fn as_str(self) -> &'static str {
        match self {
            Il::Low => "low",
            Il::Medium => "medium",
            Il::High => "high",
            Il::System => "system",
        }
    }
}

/// How the binary is signed; drives `code_signature.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    /// Infer from the path (System32 → Microsoft Windows, Program Files\Vendor → vendor).
    Auto,
    Signed(&'static str),
    Unsigned,
}

/// One process spawn request.
pub struct Spawn<'s> {
    pub exe: &'s str,
    pub cmd: String,
    pub user: usize,
    pub il: Il,
    pub sig: Sig,
    /// PE original file name when it differs from the image name (renamed binaries).
    pub orig: Option<&'static str>,
}

/// Ground truth carried by every event spawned under it.
#[derive(Debug, Clone)]
pub struct Truth {
    pub label: Label,
    pub scenario: Arc<str>,
    pub technique: Option<Arc<str>>,
    pub family: Arc<str>,
}

/// Where a process's identity lives: processes started today are read back from their
/// event (no second copy of four strings per event); older ones own their fields.
#[derive(Debug, Clone)]
pub enum ProcSrc {
    Event(usize),
    Own {
        guid: String,
        name: String,
        exe: String,
        cmd: String,
    },
}

#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i64,
    pub src: ProcSrc,
    pub user: usize,
    pub il: Il,
    pub start: i64,
}

/// Process table and output buffer of one host-day.
pub struct Day<'a> {
    pub rng: ChaCha8Rng,
    pub fleet: &'a Fleet,
    pub host: &'a Host,
    pub host_ix: usize,
    pub day: u32,
    pub t0: i64,
    pub procs: Vec<Proc>,
    pub out: &'a mut Vec<ProcessEvent>,
    guid_prefix: u32,
}

pub const DAY_MS: i64 = 86_400_000;

impl<'a> Day<'a> {
    pub fn new(
        rng: ChaCha8Rng,
        fleet: &'a Fleet,
        host_ix: usize,
        day: u32,
        t0: i64,
        out: &'a mut Vec<ProcessEvent>,
    ) -> Self {
        let host = &fleet.hosts[host_ix];
        let guid_prefix = xxhash_rust::xxh3::xxh3_64(host.name.as_bytes()) as u32;
        Day {
            rng,
            fleet,
            host,
            host_ix,
            day,
            t0,
            procs: Vec::with_capacity(4096),
            out,
            guid_prefix,
        }
    }

    fn new_guid(&mut self, t: i64) -> String {
        let r: u64 = self.rng.random();
        format!(
            "{{{:08x}-{:04x}-{:04x}-{:04x}-{:012x}}}",
            self.guid_prefix,
            ((t / 1000) as u64 & 0xFFFF) as u16,
            ((t / 65_536_000) as u64 & 0xFFFF) as u16,
            (r >> 48) as u16,
            r & 0xFFFF_FFFF_FFFF
        )
    }

    fn new_pid(&mut self) -> i64 {
        self.rng.random_range(25..6000) * 4
    }

    /// A process that already runs (started before today's window): no event.
    pub fn exist(&mut self, exe: &str, cmd: &str, user: usize, il: Il, pid: Option<i64>) -> usize {
        let start = self.t0 - 3_600_000;
        let pid = pid.unwrap_or_else(|| self.new_pid());
        let guid = self.new_guid(start);
        let src = ProcSrc::Own {
            guid,
            name: name_of(exe).to_owned(),
            exe: exe.to_owned(),
            cmd: cmd.to_owned(),
        };
        self.procs.push(Proc {
            pid,
            src,
            user,
            il,
            start,
        });
        self.procs.len() - 1
    }

    /// Start a process under `parent` at time `t` (ms since the epoch) and record the event.
    pub fn spawn(&mut self, parent: usize, t: i64, s: Spawn<'_>, truth: &Truth) -> usize {
        let t = t.max(self.procs[parent].start + 1);
        let pid = self.new_pid();
        let guid = self.new_guid(t);
        let name = name_of(s.exe);
        let (sig_exists, sig_trusted, subject) = signature(s.exe, s.sig);
        let user = &self.fleet.users[s.user];
        let elevation = match (user.kind, s.il) {
            (UserKind::Admin, Il::High) => "full",
            (UserKind::Admin, _) => "limited",
            _ => "default",
        };
        let p = &self.procs[parent];
        let (pguid, pname, pexe, pcmd) = match &p.src {
            ProcSrc::Own {
                guid,
                name,
                exe,
                cmd,
            } => (guid.as_str(), name.as_str(), exe.as_str(), cmd.as_str()),
            ProcSrc::Event(ix) => {
                let e = &self.out[*ix];
                (
                    e.process_entity_id.as_deref().unwrap_or(&e.event_id),
                    e.process_name.as_deref().unwrap_or(&e.event_id),
                    e.process_executable.as_deref().unwrap_or(&e.event_id),
                    e.process_command_line.as_deref().unwrap_or(&e.event_id),
                )
            }
        };
        let ev = ProcessEvent {
            timestamp_ms: t,
            // Numbered in time order once the host-day is sorted (see `Generator::host_day`),
            // so ids do not reveal that attacks are generated last.
            event_id: Text::default(),
            host_name: Text::from(self.host.name.as_str()),
            host_id: Some(Text::from(self.host.id.as_str())),
            source: Some(EventSource::Synthetic),
            event_action: Some("start".into()),
            process_pid: Some(pid),
            process_entity_id: Some(guid.into()),
            process_name: Some(name.into()),
            process_executable: Some(s.exe.into()),
            process_args: lotl_events::event::split_command_line(&s.cmd),
            process_command_line: Some(s.cmd.into()),
            process_pe_original_file_name: Some(
                s.orig
                    .map(Text::from)
                    .unwrap_or_else(|| original_name(name).into()),
            ),
            process_code_signature_exists: Some(sig_exists),
            process_code_signature_trusted: Some(sig_trusted),
            process_code_signature_subject: subject.map(Text::from),
            integrity_level: Some(s.il.as_str().into()),
            elevation_type: Some(elevation.into()),
            elevated: None,
            parent_pid: Some(p.pid),
            parent_entity_id: Some(pguid.into()),
            parent_name: Some(pname.into()),
            parent_executable: Some(pexe.into()),
            parent_command_line: Some(pcmd.into()),
            user_name: Some(user.name.as_str().into()),
            user_domain: Some(user.domain.as_str().into()),
            user_id: Some(user.sid.as_str().into()),
            source_file: None,
            label: Some(truth.label),
            scenario_id: Some(truth.scenario.to_compact_string()),
            technique: truth.technique.as_deref().map(Text::from),
            family: Some(truth.family.to_compact_string()),
        };
        self.out.push(ev);
        let src = ProcSrc::Event(self.out.len() - 1);
        self.procs.push(Proc {
            pid,
            src,
            user: s.user,
            il: s.il,
            start: t,
        });
        self.procs.len() - 1
    }

    /// A uniform index below `n` (`n` must be positive; callers pass non-empty lengths).
    pub fn rng_index(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// Image name of a process in the table.
    pub fn proc_name(&self, ix: usize) -> &str {
        match &self.procs[ix].src {
            ProcSrc::Own { name, .. } => name,
            ProcSrc::Event(e) => self.out[*e].process_name.as_deref().unwrap_or(""),
        }
    }

    pub fn user(&self, ix: usize) -> &User {
        &self.fleet.users[ix]
    }
}

pub fn name_of(exe: &str) -> &str {
    exe.rsplit('\\').next().unwrap_or(exe)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn signature(exe: &str, sig: Sig) -> (bool, bool, Option<&'static str>) {
    match sig {
        Sig::Signed(s) => (true, true, Some(s)),
        Sig::Unsigned => (false, false, None),
        Sig::Auto => {
            if starts_with_ci(exe, r"C:\Windows\") {
                (true, true, Some("Microsoft Windows"))
            } else if starts_with_ci(exe, r"C:\Program Files") {
                let vendor = [
                    ("Google", "Google LLC"),
                    ("Mozilla", "Mozilla Corporation"),
                    ("Adobe", "Adobe Inc."),
                    ("Microsoft", "Microsoft Corporation"),
                    ("Windows Defender", "Microsoft Windows"),
                    ("VMware", "VMware, Inc."),
                    ("Elastic", "Elasticsearch, Inc."),
                    ("Tanium", "Tanium Inc."),
                    ("Git", "Johannes Schindelin"),
                    ("nodejs", "OpenJS Foundation"),
                    ("dotnet", "Microsoft Corporation"),
                    ("Contoso", "Contoso Ltd"),
                    ("Sysinternals", "Microsoft Corporation"),
                ]
                .iter()
                .find(|(k, _)| exe.contains(k))
                .map(|v| v.1)
                .unwrap_or("Microsoft Corporation");
                (true, true, Some(vendor))
            } else if exe.contains(r"\AppData\Local\Microsoft\")
                || exe.contains(r"\AppData\Local\Programs\Microsoft VS Code")
            {
                (true, true, Some("Microsoft Corporation"))
            } else {
                (false, false, None)
            }
        }
    }
}

/// PE original file names as Windows ships them; anything else keeps its own name.
fn original_name(name: &str) -> String {
    let l = name.to_ascii_lowercase();
    let o = match l.as_str() {
        "cmd.exe" => "Cmd.Exe",
        "powershell.exe" => "PowerShell.EXE",
        "rundll32.exe" => "RUNDLL32.EXE",
        "regsvr32.exe" => "REGSVR32.EXE",
        "mshta.exe" => "MSHTA.EXE",
        "msiexec.exe" => "msiexec.exe",
        "certutil.exe" => "CertUtil.exe",
        "wscript.exe" => "wscript.exe",
        "cscript.exe" => "cscript.exe",
        "net.exe" => "net.exe",
        "net1.exe" => "net1.exe",
        "schtasks.exe" => "schtasks.exe",
        "reg.exe" => "reg.exe",
        "wmic.exe" => "wmic.exe",
        "conhost.exe" => "CONHOST.EXE",
        "whoami.exe" => "whoami.exe",
        "psexec.exe" | "psexec64.exe" => "psexec.c",
        "procdump.exe" | "procdump64.exe" => "procdump",
        "winword.exe" => "WinWord.exe",
        "excel.exe" => "Excel.exe",
        "outlook.exe" => "Outlook.exe",
        "chrome.exe" => "chrome.exe",
        _ => return name.to_owned(),
    };
    o.to_owned()
}
