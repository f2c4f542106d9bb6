//! One host-day of a host's life: its system processes, logon sessions and the helpers
//! every activity uses to spawn processes under realistic parents.

use super::config::{Role, SynthParams};
use super::fill::{fill, FillCtx};
use super::templates::TemplateBank;
use super::world::{
    Day, Il, Sig, Spawn, Truth, UserKind, DAY_MS, LOCAL_SERVICE, NETWORK_SERVICE, SYSTEM,
};
use lotl_events::Label;
use rand::Rng;
use std::sync::Arc;

pub const S32: &str = r"C:\Windows\System32\";
pub const PS: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
pub const CMD: &str = r"C:\Windows\System32\cmd.exe";
pub const OFFICE: &str = r"C:\Program Files\Microsoft Office\root\Office16\";

/// Long-running system processes of the host, by role.
pub struct Sys {
    pub services: usize,
    pub winlogon: usize,
    pub svc_dcom: usize,
    pub svc_netsvcs: usize,
    pub svc_schedule: usize,
    pub svc_localsys: usize,
    pub msmpeng: usize,
    pub agent: usize,
    pub ccmexec: usize,
    pub search: usize,
    pub wmiprvse: usize,
    pub msiserver: Option<usize>,
    pub w3wp: Option<usize>,
    pub build_agent: Option<usize>,
    pub lob_service: Option<usize>,
}

/// An interactive logon and its long-running user processes.
pub struct Session {
    pub user: usize,
    pub admin: bool,
    pub explorer: usize,
    pub start: i64,
    pub end: i64,
    pub outlook: Option<usize>,
    pub teams: Option<usize>,
    pub winword: Option<usize>,
    pub excel: Option<usize>,
}

pub struct Sim<'a> {
    pub d: Day<'a>,
    pub p: &'a SynthParams,
    pub bank: &'a TemplateBank,
    pub sys: Sys,
    pub sessions: Vec<Session>,
    pub bg: Truth,
    pub weekday: bool,
    pub scenario_no: u32,
}

impl<'a> Sim<'a> {
    pub fn new(mut d: Day<'a>, p: &'a SynthParams, bank: &'a TemplateBank) -> Sim<'a> {
        let weekday = (p.start_weekday + d.day) % 7 < 5;
        let bg = Truth {
            label: Label::Benign,
            scenario: Arc::from(format!("bg-{}-d{}", d.host.name, d.day)),
            technique: None,
            family: Arc::from("background"),
        };
        let boots_today =
            d.day == 0 || (d.host.role == Role::Workstation && weekday && d.rng.random_bool(0.6));
        let sys = boot(&mut d, &bg, boots_today);
        Sim {
            d,
            p,
            bank,
            sys,
            sessions: Vec::new(),
            bg,
            weekday,
            scenario_no: 0,
        }
    }

    pub fn t_in(&mut self, start: i64, end: i64) -> i64 {
        if end <= start {
            return start;
        }
        self.d.rng.random_range(start..end)
    }

    /// A uniformly random time of today.
    pub fn any_time(&mut self) -> i64 {
        let t0 = self.d.t0;
        self.t_in(t0, t0 + DAY_MS - 60_000)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.d.rng.random_bool(p.clamp(0.0, 1.0))
    }

    pub fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.d.rng.random_range(0..items.len())]
    }

    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            lo
        } else {
            self.d.rng.random_range(lo..=hi)
        }
    }

    pub fn fill(&mut self, template: &str, user: usize) -> String {
        let fleet = self.d.fleet;
        let peer = &fleet.server_names[self
            .d
            .rng
            .random_range(0..fleet.server_names.len().max(1))
            .min(fleet.server_names.len().saturating_sub(1))];
        let dc = fleet.dc_names.first().map(String::as_str).unwrap_or("DC01");
        let cx = FillCtx {
            user: &fleet.users[user].name,
            host: &self.d.host.name,
            peer,
            dc,
        };
        fill(template, &mut self.d.rng, &cx)
    }

    /// Spawn with the signature inferred from the path. The arguments are the event's own
    /// fields; bundling them in a struct at hundreds of call sites would only add noise.
    #[allow(clippy::too_many_arguments)]
    pub fn sp(
        &mut self,
        parent: usize,
        t: i64,
        exe: &str,
        cmd: String,
        user: usize,
        il: Il,
        truth: &Truth,
    ) -> usize {
        self.d.spawn(
            parent,
            t,
            Spawn {
                exe,
                cmd,
                user,
                il,
                sig: Sig::Auto,
                orig: None,
            },
            truth,
        )
    }

    /// Spawn as the parent's user and integrity.
    pub fn inherit(
        &mut self,
        parent: usize,
        t: i64,
        exe: &str,
        cmd: String,
        truth: &Truth,
    ) -> usize {
        let (user, il) = (self.d.procs[parent].user, self.d.procs[parent].il);
        self.sp(parent, t, exe, cmd, user, il, truth)
    }

    /// Console programs started outside a console get their own conhost.
    pub fn console(
        &mut self,
        parent: usize,
        t: i64,
        exe: &str,
        cmd: String,
        truth: &Truth,
    ) -> usize {
        let ix = self.inherit(parent, t, exe, cmd, truth);
        let pname = self.d.proc_name(parent).to_ascii_lowercase();
        if pname != "cmd.exe" && pname != "powershell.exe" && self.chance(0.7) {
            self.inherit(
                ix,
                t + 3,
                &format!("{S32}conhost.exe"),
                r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1".into(),
                truth,
            );
        }
        ix
    }

    pub fn new_truth(&mut self, label: Label, family: &str, technique: Option<&str>) -> Truth {
        self.scenario_no += 1;
        let prefix = if label == Label::Malicious {
            "atk"
        } else {
            "fp"
        };
        Truth {
            label,
            scenario: Arc::from(format!(
                "{prefix}-{}-d{}-{}",
                self.d.host.name, self.d.day, self.scenario_no
            )),
            technique: technique.map(Arc::from),
            family: Arc::from(family),
        }
    }

    /// Log a user on: winlogon → userinit → explorer, plus start-up applications.
    pub fn logon(&mut self, user: usize, start: i64, end: i64) -> usize {
        let bg = self.bg.clone();
        let admin = self.d.user(user).kind == UserKind::Admin;
        let winlogon = self.sys.winlogon;
        let userinit = self.sp(
            winlogon,
            start,
            &format!("{S32}userinit.exe"),
            format!("{S32}userinit.exe"),
            user,
            Il::Medium,
            &bg,
        );
        let explorer = self.sp(
            userinit,
            start + 400,
            r"C:\Windows\explorer.exe",
            r"C:\Windows\Explorer.EXE".into(),
            user,
            Il::Medium,
            &bg,
        );
        // Logon script from NETLOGON: the benign twin of cmd/cscript/net under userinit.
        if self.chance(0.5) {
            let c = self.console(
                userinit,
                start + 200,
                CMD,
                format!(
                    r"C:\Windows\system32\cmd.exe /c \\{}\NETLOGON\logon.bat",
                    super::world::DNS_DOMAIN
                ),
                &bg,
            );
            for (i, share) in ["H: \\\\FS01\\home$\\", "S: \\\\FS01\\shared"]
                .iter()
                .enumerate()
            {
                let u = &self.d.fleet.users[user].name;
                let cmd = if i == 0 {
                    format!("net  use {share}{u} /persistent:no")
                } else {
                    format!("net  use {share} /persistent:no")
                };
                self.inherit(
                    c,
                    start + 300 + i as i64 * 150,
                    &format!("{S32}net.exe"),
                    cmd,
                    &bg,
                );
            }
        } else if self.chance(0.3) {
            self.console(
                userinit,
                start + 200,
                &format!("{S32}cscript.exe"),
                format!(
                    r#"cscript.exe //nologo \\{}\NETLOGON\map_drives.vbs"#,
                    super::world::DNS_DOMAIN
                ),
                &bg,
            );
        }
        let mut s = Session {
            user,
            admin,
            explorer,
            start,
            end,
            outlook: None,
            teams: None,
            winword: None,
            excel: None,
        };
        let t = start + 5_000;
        self.sp(
            explorer,
            t,
            &format!("{S32}SecurityHealthSystray.exe"),
            format!(r#""{S32}SecurityHealthSystray.exe""#),
            user,
            Il::Medium,
            &bg,
        );
        let u = self.d.fleet.users[user].name.clone();
        self.sp(
            explorer,
            t + 800,
            &format!(r"C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe"),
            format!(r#""C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background"#),
            user,
            Il::Medium,
            &bg,
        );
        if !admin || self.d.host.role == Role::Workstation {
            let o = self.sp(
                explorer,
                t + 20_000,
                &format!("{OFFICE}OUTLOOK.EXE"),
                format!(r#""{OFFICE}OUTLOOK.EXE" "#),
                user,
                Il::Medium,
                &bg,
            );
            s.outlook = Some(o);
            let teams = format!(r"C:\Users\{u}\AppData\Local\Microsoft\Teams\current\Teams.exe");
            let tm = self.sp(
                explorer,
                t + 9_000,
                &teams,
                format!(r#""{teams}" --process-start-args "--system-initiated""#),
                user,
                Il::Medium,
                &bg,
            );
            for k in 0..3 {
                self.sp(tm, t + 10_000 + k * 700, &teams, format!(r#""{teams}" --type=renderer --autoplay-policy=no-user-gesture-required --lang=en-US --renderer-client-id={}"#, 5 + k), user, Il::Medium, &bg);
            }
            s.teams = Some(tm);
        }
        self.sessions.push(s);
        self.sessions.len() - 1
    }
}

/// The boot tree (emitted on boot days, otherwise present without events).
fn boot(d: &mut Day<'_>, bg: &Truth, emit: bool) -> Sys {
    let role = d.host.role;
    let t = d.t0 + d.rng.random_range(5 * 3_600_000..8 * 3_600_000);
    let system = d.exist("System", "", SYSTEM, Il::System, Some(4));
    let mut at = t;
    let mut sp =
        |d: &mut Day<'_>, parent: usize, exe: &str, cmd: &str, user: usize, il: Il| -> usize {
            at += d.rng.random_range(30..900);
            if emit {
                d.spawn(
                    parent,
                    at,
                    Spawn {
                        exe,
                        cmd: cmd.to_owned(),
                        user,
                        il,
                        sig: Sig::Auto,
                        orig: None,
                    },
                    bg,
                )
            } else {
                d.exist(exe, cmd, user, il, None)
            }
        };
    let smss = sp(
        d,
        system,
        r"C:\Windows\System32\smss.exe",
        r"\SystemRoot\System32\smss.exe",
        SYSTEM,
        Il::System,
    );
    let smss1 = sp(
        d,
        smss,
        r"C:\Windows\System32\smss.exe",
        r"\SystemRoot\System32\smss.exe 000000c4 00000080",
        SYSTEM,
        Il::System,
    );
    sp(
        d,
        smss1,
        r"C:\Windows\System32\csrss.exe",
        r"%SystemRoot%\system32\csrss.exe ObjectDirectory=\Windows SharedSection=1024,20480,768 Windows=On SubSystemType=Windows ServerDll=basesrv,1 ServerDll=winsrv:UserServerDllInitialization,3 ServerDll=sxssrv,4 ProfileControl=Off MaxRequestThreads=16",
        SYSTEM,
        Il::System,
    );
    let wininit = sp(
        d,
        smss1,
        r"C:\Windows\System32\wininit.exe",
        "wininit.exe",
        SYSTEM,
        Il::System,
    );
    let winlogon = sp(
        d,
        smss,
        r"C:\Windows\System32\winlogon.exe",
        "winlogon.exe",
        SYSTEM,
        Il::System,
    );
    let services = sp(
        d,
        wininit,
        r"C:\Windows\System32\services.exe",
        r"C:\Windows\system32\services.exe",
        SYSTEM,
        Il::System,
    );
    sp(
        d,
        wininit,
        r"C:\Windows\System32\lsass.exe",
        r"C:\Windows\system32\lsass.exe",
        SYSTEM,
        Il::System,
    );
    let sv = r"C:\Windows\System32\svchost.exe";
    let svc_dcom = sp(
        d,
        services,
        sv,
        r"C:\Windows\system32\svchost.exe -k DcomLaunch -p",
        SYSTEM,
        Il::System,
    );
    sp(
        d,
        services,
        sv,
        r"C:\Windows\system32\svchost.exe -k RPCSS -p",
        NETWORK_SERVICE,
        Il::System,
    );
    let svc_netsvcs = sp(
        d,
        services,
        sv,
        r"C:\Windows\system32\svchost.exe -k netsvcs -p",
        SYSTEM,
        Il::System,
    );
    let svc_schedule = sp(
        d,
        services,
        sv,
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        SYSTEM,
        Il::System,
    );
    sp(
        d,
        services,
        sv,
        r"C:\Windows\System32\svchost.exe -k LocalServiceNetworkRestricted -p",
        LOCAL_SERVICE,
        Il::System,
    );
    sp(
        d,
        services,
        sv,
        r"C:\Windows\System32\svchost.exe -k NetworkService -p",
        NETWORK_SERVICE,
        Il::System,
    );
    let svc_localsys = sp(
        d,
        services,
        sv,
        r"C:\Windows\system32\svchost.exe -k LocalSystemNetworkRestricted -p",
        SYSTEM,
        Il::System,
    );
    sp(
        d,
        services,
        r"C:\Windows\System32\spoolsv.exe",
        r"C:\Windows\System32\spoolsv.exe",
        SYSTEM,
        Il::System,
    );
    let msmpeng = sp(
        d,
        services,
        r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MsMpEng.exe",
        r#""C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MsMpEng.exe""#,
        SYSTEM,
        Il::System,
    );
    let agent = if d.host_ix.is_multiple_of(2) {
        sp(
            d,
            services,
            r"C:\Program Files\Elastic\Agent\elastic-agent.exe",
            r#""C:\Program Files\Elastic\Agent\elastic-agent.exe""#,
            SYSTEM,
            Il::System,
        )
    } else {
        sp(
            d,
            services,
            r"C:\Program Files\Tanium\Tanium Client\TaniumClient.exe",
            r#""C:\Program Files\Tanium\Tanium Client\TaniumClient.exe" --service"#,
            SYSTEM,
            Il::System,
        )
    };
    sp(
        d,
        services,
        r"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe",
        r#""C:\Program Files\VMware\VMware Tools\vmtoolsd.exe""#,
        SYSTEM,
        Il::System,
    );
    let ccmexec = sp(
        d,
        services,
        r"C:\Windows\CCM\CcmExec.exe",
        r"C:\Windows\CCM\CcmExec.exe",
        SYSTEM,
        Il::System,
    );
    let search = sp(
        d,
        services,
        r"C:\Windows\System32\SearchIndexer.exe",
        r"C:\Windows\system32\SearchIndexer.exe /Embedding",
        SYSTEM,
        Il::System,
    );
    let wmiprvse = sp(
        d,
        svc_dcom,
        r"C:\Windows\System32\wbem\WmiPrvSE.exe",
        r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
        NETWORK_SERVICE,
        Il::System,
    );
    let (mut w3wp, mut build_agent, mut lob_service) = (None, None, None);
    match role {
        Role::DomainController => {
            sp(
                d,
                services,
                r"C:\Windows\System32\dns.exe",
                r"C:\Windows\system32\dns.exe",
                SYSTEM,
                Il::System,
            );
            sp(
                d,
                services,
                r"C:\Windows\System32\dfsrs.exe",
                r"C:\Windows\system32\DFSRs.exe",
                SYSTEM,
                Il::System,
            );
            sp(
                d,
                services,
                r"C:\Windows\ADWS\Microsoft.ActiveDirectory.WebServices.exe",
                r"C:\Windows\ADWS\Microsoft.ActiveDirectory.WebServices.exe",
                SYSTEM,
                Il::System,
            );
        }
        Role::Server => {
            let iis = sp(
                d,
                services,
                sv,
                r"C:\Windows\system32\svchost.exe -k iissvcs",
                SYSTEM,
                Il::System,
            );
            w3wp = Some(sp(
                d,
                iis,
                r"C:\Windows\System32\inetsrv\w3wp.exe",
                r#"c:\windows\system32\inetsrv\w3wp.exe -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll" -a \\.\pipe\iisipm"#,
                NETWORK_SERVICE,
                Il::High,
            ));
            let svc = d.host.service.unwrap_or(SYSTEM);
            lob_service = Some(sp(
                d,
                services,
                r"C:\Program Files\Contoso\ERP Server\erpsvc.exe",
                r#""C:\Program Files\Contoso\ERP Server\erpsvc.exe" -service"#,
                svc,
                Il::High,
            ));
        }
        Role::BuildServer => {
            let svc = d.host.service.unwrap_or(SYSTEM);
            build_agent = Some(sp(
                d,
                services,
                r"C:\agent\bin\Agent.Listener.exe",
                r#""C:\agent\bin\Agent.Listener.exe" run --startuptype service"#,
                svc,
                Il::High,
            ));
        }
        Role::Workstation => {}
    }
    Sys {
        services,
        winlogon,
        svc_dcom,
        svc_netsvcs,
        svc_schedule,
        svc_localsys,
        msmpeng,
        agent,
        ccmexec,
        search,
        wmiprvse,
        msiserver: None,
        w3wp,
        build_agent,
        lob_service,
    }
}
