//! Benign behaviour: ordinary background and user activity, and the five false-positive
//! burst families (many children under one parent) that make the cluster model's job hard.
//!
//! The binaries attackers abuse (powershell, cmd, rundll32, msiexec, certutil, regsvr32,
//! mshta, wscript, schtasks, reg, net, wmic, psexec, procdump, ntdsutil) all appear here in
//! legitimate roles, under the same parents and users as the attacks, so no single field
//! gives the label away.

use super::config::{BenignFamily, Role};
use super::sim::{Sim, CMD, OFFICE, PS, S32};
use super::world::{Il, Sig, Spawn, Truth, UserKind, NETWORK_SERVICE, SYSTEM};
use lotl_events::Label;

const ADMIN_CMDS: &[&str] = &[
    "whoami /groups",
    "whoami",
    "net user {USER} /domain",
    r#"net group "Domain Admins" /domain"#,
    "net localgroup administrators",
    "nltest /dsgetdc:{DOMAIN}",
    "nltest /sc_query:{DOMAIN}",
    "ipconfig /all",
    "ipconfig /flushdns",
    "systeminfo",
    "tasklist /svc",
    "netstat -ano",
    "sc query wuauserv",
    "sc queryex type= service state= all",
    "gpresult /r",
    "gpupdate /force",
    "quser",
    "query session",
    "ping -n 2 {SERVER}",
    "nslookup {SERVER}",
    "arp -a",
    "route print",
    r"wmic /node:{SERVER} os get caption,version",
    "wmic qfe list brief",
    "winrs -r:{SERVER} hostname",
    r"reg query HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    "certutil -hashfile {PATH:.zip} SHA256",
    r"C:\Tools\Sysinternals\PsExec64.exe \\{SERVER} -accepteula ipconfig /all",
    "schtasks /query /fo LIST /v",
    "net view \\\\{SERVER}",
    "dsquery user -name {USER}",
    "repadmin /replsummary",
    "dcdiag /q",
    "netsh advfirewall show allprofiles",
    r#"C:\Tools\AdFind\AdFind.exe -f "objectcategory=computer" -csv name operatingSystem"#,
    "auditpol /get /category:*",
    "klist",
    "hostname",
];

/// Map a command line's first word to its image.
fn image_of(cmd: &str) -> String {
    let first = cmd
        .split_whitespace()
        .next()
        .unwrap_or("cmd")
        .trim_matches('"');
    if first.contains('\\') {
        return first.to_owned();
    }
    let n = if first.to_ascii_lowercase().ends_with(".exe") {
        first.to_owned()
    } else {
        format!("{first}.exe")
    };
    match n.to_ascii_lowercase().as_str() {
        "dsquery.exe" | "repadmin.exe" | "dcdiag.exe" => format!("{S32}{n}"),
        _ => super::templates::system_path(&n),
    }
}

impl Sim<'_> {
    /// One unit of ordinary activity at a random moment.
    pub fn background_once(&mut self) {
        let active: Vec<usize> = (0..self.sessions.len()).collect();
        if !active.is_empty() && self.chance(0.6) {
            let s = active[self.d.rng_index(active.len())];
            let (a, b) = (self.sessions[s].start, self.sessions[s].end);
            let t = self.t_in(a, b);
            self.user_activity(s, t);
        } else {
            let t = self.any_time();
            self.system_activity(t);
        }
    }

    fn user_activity(&mut self, s: usize, t: i64) {
        let bg = self.bg.clone();
        let (user, explorer, admin) = (
            self.sessions[s].user,
            self.sessions[s].explorer,
            self.sessions[s].admin,
        );
        let uname = self.d.fleet.users[user].name.clone();
        let k = self.range(0, 99);
        match k {
            0..=24 => {
                let (exe, n) = if self.chance(0.6) {
                    (
                        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
                        "chrome",
                    )
                } else {
                    (
                        r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
                        "msedge",
                    )
                };
                let b = self.sp(
                    explorer,
                    t,
                    exe,
                    format!(r#""{exe}" "#),
                    user,
                    Il::Medium,
                    &bg,
                );
                for i in 0..self.range(2, 6) {
                    let ty = self.pick(&[
                        "renderer",
                        "gpu-process",
                        "utility --utility-sub-type=network.mojom.NetworkService",
                        "renderer",
                        "crashpad-handler",
                    ]);
                    self.sp(b, t + 200 + i64::from(i) * 350, exe, format!(r#""{exe}" --type={ty} --lang=en-US --{n}-version=131.0.6778.86 --field-trial-handle=1756,i,{}"#, 1000 + i), user, Il::Low, &bg);
                }
            }
            25..=39 => {
                let app = self.pick(&[
                    "WINWORD.EXE",
                    "EXCEL.EXE",
                    "POWERPNT.EXE",
                    "WINWORD.EXE",
                    "EXCEL.EXE",
                ]);
                let outlook = self.sessions[s].outlook;
                let parent = match outlook {
                    Some(o) if self.chance(0.4) => o,
                    _ => explorer,
                };
                let from_mail = parent != explorer;
                let ext = match app {
                    "WINWORD.EXE" => "docx",
                    "EXCEL.EXE" => "xlsx",
                    _ => "pptx",
                };
                let doc = if from_mail {
                    format!(
                        r"C:\Users\{uname}\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\Q7X2KD1M\{}.{ext}",
                        self.fill("{WORD}", user)
                    )
                } else {
                    format!(
                        r"C:\Users\{uname}\Documents\{}.{ext}",
                        self.fill("{WORD}", user)
                    )
                };
                let o = self.sp(
                    parent,
                    t,
                    &format!("{OFFICE}{app}"),
                    format!(r#""{OFFICE}{app}" /n "{doc}" /o """#),
                    user,
                    Il::Medium,
                    &bg,
                );
                if app == "WINWORD.EXE" {
                    self.sessions[s].winword = Some(o)
                } else if app == "EXCEL.EXE" {
                    self.sessions[s].excel = Some(o)
                }
                if self.chance(0.15) {
                    self.inherit(
                        o,
                        t + 60_000,
                        &format!("{S32}splwow64.exe"),
                        format!("{S32}splwow64.exe 12288"),
                        &bg,
                    );
                }
            }
            40..=45 => {
                let parent = self.sessions[s]
                    .outlook
                    .filter(|_| self.chance(0.5))
                    .unwrap_or(explorer);
                let a = r"C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe";
                let w = self.fill("{WORD}", user);
                let p = self.sp(
                    parent,
                    t,
                    a,
                    format!(r#""{a}" "C:\Users\{uname}\Downloads\{w}.pdf""#),
                    user,
                    Il::Medium,
                    &bg,
                );
                self.sp(
                    p,
                    t + 400,
                    a,
                    format!(r#""{a}" --type=renderer /prefetch:1"#),
                    user,
                    Il::Low,
                    &bg,
                );
            }
            46..=55 => {
                let app = self.pick(&[
                    "notepad.exe",
                    "calc.exe",
                    "mspaint.exe",
                    "SnippingTool.exe",
                    "mstsc.exe",
                    "taskmgr.exe",
                    "control.exe",
                ]);
                let cmd = if app == "mstsc.exe" {
                    format!("\"{S32}mstsc.exe\" /v:{}", self.fill("{SERVER}", user))
                } else {
                    format!("\"{S32}{app}\"")
                };
                let c = self.sp(
                    explorer,
                    t,
                    &format!("{S32}{app}"),
                    cmd,
                    user,
                    Il::Medium,
                    &bg,
                );
                if app == "control.exe" {
                    let cpl = self.pick(&[
                        "desk.cpl",
                        "ncpa.cpl",
                        "appwiz.cpl",
                        "mmsys.cpl",
                        "timedate.cpl",
                    ]);
                    self.inherit(c, t + 300, &format!("{S32}rundll32.exe"), format!(r#""C:\Windows\system32\rundll32.exe" C:\Windows\system32\shell32.dll,Control_RunDLL "C:\Windows\System32\{cpl}","#), &bg);
                }
            }
            56..=63 => {
                // A power user's console: the benign twin of attacker discovery.
                let il = if admin { Il::High } else { Il::Medium };
                let shell = if self.chance(0.5) { CMD } else { PS };
                let sh = self.sp(
                    explorer,
                    t,
                    shell,
                    if shell == CMD {
                        format!(r#""{CMD}" "#)
                    } else {
                        format!(r#""{PS}" "#)
                    },
                    user,
                    il,
                    &bg,
                );
                self.sp(
                    sh,
                    t + 5,
                    &format!("{S32}conhost.exe"),
                    r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1".into(),
                    user,
                    il,
                    &bg,
                );
                for i in 0..self.range(1, 3) {
                    let c = self.pick(&[
                        "ipconfig /all",
                        "ping -n 4 {SERVER}",
                        "nslookup {SERVER}",
                        "whoami",
                        "git status",
                        "git pull",
                        "hostname",
                        "tasklist",
                        "net use",
                        "netstat -an",
                    ]);
                    let c = self.fill(c, user);
                    let exe = if c.starts_with("git") {
                        r"C:\Program Files\Git\cmd\git.exe".to_owned()
                    } else {
                        image_of(&c)
                    };
                    self.inherit(sh, t + 4_000 + i64::from(i) * 9_000, &exe, c, &bg);
                }
            }
            64..=69 => {
                let code =
                    format!(r"C:\Users\{uname}\AppData\Local\Programs\Microsoft VS Code\Code.exe");
                let c = self.sp(
                    explorer,
                    t,
                    &code,
                    format!(r#""{code}" "#),
                    user,
                    Il::Medium,
                    &bg,
                );
                let term = self.inherit(c, t + 3_000, PS, format!("{PS} -NoLogo"), &bg);
                for i in 0..self.range(1, 4) {
                    let (exe, cmd) = match self.range(0, 3) {
                        0 => (
                            r"C:\Program Files\Git\cmd\git.exe".to_owned(),
                            "git fetch --all".to_owned(),
                        ),
                        1 => (
                            r"C:\Program Files\nodejs\node.exe".to_owned(),
                            r#""C:\Program Files\nodejs\node.exe" node_modules\.bin\vite build"#
                                .to_owned(),
                        ),
                        2 => (
                            CMD.to_owned(),
                            r#"C:\Windows\system32\cmd.exe /d /s /c "npm run test""#.to_owned(),
                        ),
                        _ => (
                            r"C:\Program Files\dotnet\dotnet.exe".to_owned(),
                            "dotnet build -c Release".to_owned(),
                        ),
                    };
                    self.inherit(term, t + 10_000 + i64::from(i) * 20_000, &exe, cmd, &bg);
                }
            }
            70..=75 => {
                let c = self.pick(&[
                    r#""C:\Windows\system32\rundll32.exe" C:\Windows\system32\shell32.dll,OpenAs_RunDLL C:\Users\{USER}\Downloads\{WORD}.dat"#,
                    r#"rundll32.exe printui.dll,PrintUIEntry /in /n\\{SERVER}\FollowMe"#,
                    r#""C:\Windows\system32\rundll32.exe" C:\Windows\system32\shell32.dll,Control_RunDLL C:\Windows\system32\inetcpl.cpl"#,
                    r#"C:\Windows\system32\rundll32.exe C:\Windows\system32\davclnt.dll,DavSetCookie {SERVER} https://{SERVER}/sites/team"#,
                    r#""C:\Windows\System32\rundll32.exe" "C:\Windows\System32\ieframe.dll",OpenURL C:\Users\{USER}\Favorites\Intranet.url"#,
                ]);
                let c = self.fill(c, user);
                self.sp(
                    explorer,
                    t,
                    &format!("{S32}rundll32.exe"),
                    c,
                    user,
                    Il::Medium,
                    &bg,
                );
            }
            76..=79 => {
                let c = self.fill(r#""C:\Windows\System32\msiexec.exe" /i "C:\Users\{USER}\Downloads\{WORD}.msi""#, user);
                self.sp(
                    explorer,
                    t,
                    &format!("{S32}msiexec.exe"),
                    c,
                    user,
                    Il::Medium,
                    &bg,
                );
            }
            80..=84 if admin => {
                let (exe, cmd) = match self.range(0, 2) {
                    0 => (
                        format!("{S32}mmc.exe"),
                        format!(
                            r#""C:\Windows\system32\mmc.exe" "C:\Windows\system32\{}""#,
                            self.pick(&[
                                "compmgmt.msc",
                                "dsa.msc",
                                "gpmc.msc",
                                "services.msc",
                                "eventvwr.msc"
                            ])
                        ),
                    ),
                    1 => (
                        format!("{S32}ServerManager.exe"),
                        format!(r#""{S32}ServerManager.exe" "#),
                    ),
                    _ => (
                        format!("{S32}certutil.exe"),
                        self.fill("certutil -store My", user),
                    ),
                };
                let svc = self.sys.svc_localsys;
                let pid = self.range(800, 9000);
                self.sp(
                    svc,
                    t - 800,
                    &format!("{S32}consent.exe"),
                    format!("consent.exe {pid} 456 000001F2A3B4C5D0"),
                    SYSTEM,
                    Il::System,
                    &bg,
                );
                self.sp(explorer, t, &exe, cmd, user, Il::High, &bg);
            }
            85..=88 => {
                let script = self.pick(&[r#""C:\Windows\System32\WScript.exe" "C:\Users\{USER}\Desktop\Map Drives.vbs""#, r#""C:\Windows\System32\cscript.exe" //nologo C:\Windows\System32\slmgr.vbs /dlv"#]);
                let c = self.fill(script, user);
                self.sp(explorer, t, &image_of(&c), c, user, Il::Medium, &bg);
            }
            _ => {
                let rb = self.sys.svc_dcom;
                self.sp(
                    rb,
                    t,
                    &format!("{S32}RuntimeBroker.exe"),
                    format!("{S32}RuntimeBroker.exe -Embedding"),
                    user,
                    Il::Medium,
                    &bg,
                );
            }
        }
    }

    fn system_activity(&mut self, t: i64) {
        let bg = self.bg.clone();
        let sys = &self.sys;
        let (sched, dcom, netsvcs, services, msmpeng, agent, ccm, search, wmi) = (
            sys.svc_schedule,
            sys.svc_dcom,
            sys.svc_netsvcs,
            sys.services,
            sys.msmpeng,
            sys.agent,
            sys.ccmexec,
            sys.search,
            sys.wmiprvse,
        );
        let role = self.d.host.role;
        let k = self.range(0, 99);
        match k {
            0..=14 => {
                let c = self.pick(&[
                    "taskhostw.exe Install $(Arg0)",
                    "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
                    "taskhostw.exe SYSTEM",
                    "taskhostw.exe KEYROAMING",
                    "taskhostw.exe /RuntimeWide",
                ]);
                self.sp(
                    sched,
                    t,
                    &format!("{S32}taskhostw.exe"),
                    c.to_owned(),
                    SYSTEM,
                    Il::System,
                    &bg,
                );
            }
            15..=24 => {
                let g = self.fill("{GUID}", SYSTEM);
                self.sp(
                    dcom,
                    t,
                    &format!("{S32}dllhost.exe"),
                    format!("C:\\Windows\\system32\\DllHost.exe /Processid:{{{g}}}"),
                    SYSTEM,
                    Il::System,
                    &bg,
                );
            }
            25..=29 => {
                self.sp(
                    dcom,
                    t,
                    &format!(r"{S32}wbem\WmiPrvSE.exe"),
                    r"C:\Windows\system32\wbem\wmiprvse.exe -Embedding".into(),
                    NETWORK_SERVICE,
                    Il::System,
                    &bg,
                );
            }
            30..=36 => {
                let (exe, cmd) = match self.range(0, 4) {
                    0 => (
                        format!("{S32}svchost.exe"),
                        format!(
                            "C:\\Windows\\system32\\svchost.exe -k {} -s {}",
                            self.pick(&[
                                "netsvcs -p",
                                "LocalService -p",
                                "wsappx -p",
                                "NetworkService -p"
                            ]),
                            self.pick(&[
                                "BITS", "wlidsvc", "AppXSvc", "Dnscache", "gpsvc", "UsoSvc"
                            ])
                        ),
                    ),
                    1 => (
                        r"C:\Windows\servicing\TrustedInstaller.exe".to_owned(),
                        r"C:\Windows\servicing\TrustedInstaller.exe".to_owned(),
                    ),
                    2 => (format!("{S32}sppsvc.exe"), format!("{S32}sppsvc.exe")),
                    3 => (
                        format!("{S32}msiexec.exe"),
                        r"C:\Windows\system32\msiexec.exe /V".to_owned(),
                    ),
                    _ => (
                        format!("{S32}SecurityHealthService.exe"),
                        format!("{S32}SecurityHealthService.exe"),
                    ),
                };
                let ix = self.sp(services, t, &exe, cmd, SYSTEM, Il::System, &bg);
                if exe.ends_with("msiexec.exe") {
                    self.sys.msiserver = Some(ix);
                }
            }
            37..=42 => {
                let c = self.pick(&[
                    "C:\\Windows\\system32\\wermgr.exe -upload",
                    "C:\\Windows\\system32\\wermgr.exe -outofproc -request 0",
                ]);
                self.sp(
                    netsvcs,
                    t,
                    &format!("{S32}wermgr.exe"),
                    c.into(),
                    SYSTEM,
                    Il::System,
                    &bg,
                );
            }
            43..=52 => match self.range(0, 3) {
                0 => {
                    let tw = r"C:\Windows\WinSxS\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.4585_none_7dd7a8fe1e2f1f0c\TiWorker.exe";
                    self.sp(
                        dcom,
                        t,
                        tw,
                        format!("{tw} -Embedding"),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                }
                1 => {
                    self.sp(
                        sched,
                        t,
                        &format!("{S32}MoUsoCoreWorker.exe"),
                        format!("{S32}MoUsoCoreWorker.exe -Embedding"),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                }
                2 => {
                    self.sp(
                        netsvcs,
                        t,
                        &format!("{S32}wuauclt.exe"),
                        r#""C:\Windows\system32\wuauclt.exe" /RunHandlerComServer"#.into(),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                }
                _ => {
                    self.sp(
                        sched,
                        t,
                        &format!("{S32}usoclient.exe"),
                        "C:\\Windows\\system32\\usoclient.exe StartScan".into(),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                }
            },
            53..=59 => {
                let mp = r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MpCmdRun.exe";
                let c = self.pick(&[
                    "-wdenable",
                    "SignatureUpdate -ScheduleJob -RestrictPrivileges -DailyReschedule",
                    "-IdleTask -TaskName WdCacheMaintenance",
                    "Scan -ScheduleJob -ScanTrigger 55 -IdleScheduledJob",
                ]);
                let parent = if self.chance(0.5) { msmpeng } else { sched };
                let m = self.sp(
                    parent,
                    t,
                    mp,
                    format!("\"{mp}\" {c}"),
                    SYSTEM,
                    Il::System,
                    &bg,
                );
                self.sp(
                    m,
                    t + 5,
                    &format!("{S32}conhost.exe"),
                    r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1".into(),
                    SYSTEM,
                    Il::System,
                    &bg,
                );
            }
            60..=71 => {
                let (exe, cmd) = match self.range(0, 6) {
                    0 => (r"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe", r#""C:\Program Files (x86)\Google\Update\GoogleUpdate.exe" /ua /installsource scheduler"#.to_owned()),
                    1 => (r"C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe", r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe" /c"#.to_owned()),
                    2 => (r"C:\Windows\System32\CompatTelRunner.exe", r"C:\Windows\system32\compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun".to_owned()),
                    3 => (r"C:\Windows\System32\rundll32.exe", self.pick(&[r"C:\Windows\system32\rundll32.exe C:\Windows\system32\PcaSvc.dll,PcaPatchSdbTask", r"C:\Windows\system32\rundll32.exe Startupscan.dll,SusRunTask", r#"C:\Windows\System32\rundll32.exe C:\Windows\System32\Windows.StateRepositoryClient.dll,StateRepositoryDoMaintenanceTasks"#]).to_owned()),
                    4 => (r"C:\Windows\System32\defrag.exe", r"C:\Windows\system32\defrag.exe -c -h -o -$".to_owned()),
                    5 => (r"C:\Windows\System32\gpupdate.exe", "gpupdate.exe /target:computer".to_owned()),
                    _ => (r"C:\Windows\System32\sc.exe", r"C:\Windows\system32\sc.exe start wuauserv".to_owned()),
                };
                self.sp(sched, t, exe, cmd, SYSTEM, Il::System, &bg);
            }
            72..=77 => {
                let pname = self.d.proc_name(agent).to_owned();
                if pname == "elastic-agent.exe" {
                    let b = self.pick(&["filebeat", "metricbeat", "osquerybeat"]);
                    let exe = format!(
                        r"C:\Program Files\Elastic\Agent\data\elastic-agent-8.15.3\components\{b}.exe"
                    );
                    self.sp(agent, t, &exe, format!(r#""{exe}" -E setup.ilm.enabled=false -E path.data=C:\Program Files\Elastic\Agent\data\run\{b}-default"#), SYSTEM, Il::System, &bg);
                } else {
                    let exe = r"C:\Program Files\Tanium\Tanium Client\TaniumCX.exe";
                    self.sp(
                        agent,
                        t,
                        exe,
                        format!(r#""{exe}" --run-sensor "Installed Applications""#),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                }
            }
            78..=83 => {
                let exe = self.pick(&["SearchProtocolHost.exe", "SearchFilterHost.exe"]);
                self.sp(search, t, &format!("{S32}{exe}"), format!(r#""C:\Windows\system32\{exe}" Global\UsGthrFltPipeMssGthrPipe_S-1-5-21 1 -2147483646 "Software\Microsoft\Windows Search""#), SYSTEM, Il::System, &bg);
            }
            84..=88 => {
                if self.chance(0.5) {
                    self.sp(
                        ccm,
                        t,
                        r"C:\Windows\CCM\CcmEval.exe",
                        r#""C:\Windows\CCM\CcmEval.exe""#.into(),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                } else {
                    let g = self.fill("{GUID}", SYSTEM);
                    self.console(ccm, t, PS, format!(r#""{PS}" -NoLogo -Noninteractive -NoProfile -ExecutionPolicy Bypass "& 'C:\Windows\CCM\SystemTemp\{g}.ps1'""#), &bg);
                }
            }
            89..=91 => {
                // WMI-launched management scripts: the benign twin of wmiprvse → powershell.
                let c = if self.chance(0.5) {
                    let b = self.fill("{B64}", SYSTEM);
                    format!("powershell.exe -NoProfile -NonInteractive -EncodedCommand {b}")
                } else {
                    r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -ExecutionPolicy Bypass -File C:\ProgramData\Monitoring\collect_inventory.ps1"#.into()
                };
                self.sp(wmi, t, PS, c, SYSTEM, Il::System, &bg);
            }
            92..=95 => {
                // The updater ping loop seen in the real benign workstation recording.
                let c = self.console(sched, t, CMD, r#"C:\Windows\system32\cmd.exe /c "C:\Program Files\Contoso\Updater\wait_and_update.cmd""#.into(), &bg);
                for i in 0..self.range(1, 4) {
                    self.inherit(
                        c,
                        t + 500 + i64::from(i) * 6_000,
                        &format!("{S32}PING.EXE"),
                        "ping  -n 6 127.0.0.1".into(),
                        &bg,
                    );
                }
            }
            _ => match role {
                Role::Server => {
                    if let Some(w) = self.sys.w3wp {
                        let csc = r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe";
                        let g = self.fill("{HEX}", SYSTEM);
                        let c = self.inherit(w, t, csc, format!(r#""{csc}" /noconfig /fullpaths @"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\root\{g}.cmdline""#), &bg);
                        let cv = r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\cvtres.exe";
                        self.inherit(
                            c,
                            t + 300,
                            cv,
                            format!("{cv} /NOLOGO /READONLY /MACHINE:IX86"),
                            &bg,
                        );
                    }
                }
                Role::BuildServer => self.build_job(t, &bg, 2),
                Role::DomainController => {
                    let c = self.console(
                        sched,
                        t,
                        CMD,
                        r#"C:\Windows\system32\cmd.exe /c "C:\Scripts\ad_health.cmd""#.into(),
                        &bg,
                    );
                    self.inherit(
                        c,
                        t + 400,
                        &format!("{S32}repadmin.exe"),
                        "repadmin /replsummary".into(),
                        &bg,
                    );
                    self.inherit(
                        c,
                        t + 2_000,
                        &format!("{S32}dcdiag.exe"),
                        "dcdiag /q".into(),
                        &bg,
                    );
                }
                Role::Workstation => {
                    self.sp(
                        sched,
                        t,
                        &format!("{S32}sihclient.exe"),
                        "C:\\Windows\\System32\\sihclient.exe  /cv 7n1tF9wK3EKtHvhyYYLTHQ.0.2"
                            .into(),
                        SYSTEM,
                        Il::System,
                        &bg,
                    );
                }
            },
        }
    }

    /// CI agent → worker → a pipeline step's shell → compilers and tools.
    fn build_job(&mut self, t: i64, truth: &Truth, steps: u32) {
        let Some(listener) = self.sys.build_agent else {
            return;
        };
        let worker = self.inherit(
            listener,
            t,
            r"C:\agent\bin\Agent.Worker.exe",
            r#""C:\agent\bin\Agent.Worker.exe" spawnclient 3192 3204"#.into(),
            truth,
        );
        let g = self.fill("{GUID}", SYSTEM).to_ascii_lowercase();
        let step = self.console(worker, t + 2_000, CMD, format!(r#"C:\Windows\system32\cmd.exe /D /E:ON /V:OFF /S /C "CALL "C:\agent\_work\_temp\{g}.cmd"""#), truth);
        for i in 0..steps {
            let (exe, cmd) = match self.range(0, 6) {
                0 => (r"C:\Program Files\Microsoft Visual Studio\2022\BuildTools\MSBuild\Current\Bin\amd64\MSBuild.exe", r#""MSBuild.exe" /nologo /m /p:Configuration=Release C:\agent\_work\1\s\Contoso.sln"#.to_owned()),
                1 => (r"C:\Program Files\Git\cmd\git.exe", "git -c http.extraheader=\"AUTHORIZATION: bearer ***\" fetch --force --tags --prune origin".to_owned()),
                2 => (r"C:\Program Files\dotnet\dotnet.exe", r#""C:\Program Files\dotnet\dotnet.exe" test C:\agent\_work\1\s\tests --logger trx"#.to_owned()),
                3 => (r"C:\Program Files\nodejs\node.exe", r#""C:\Program Files\nodejs\node.exe" C:\agent\_work\1\s\node_modules\webpack\bin\webpack.js --mode production"#.to_owned()),
                4 => (r"C:\Windows\System32\certutil.exe", r"certutil -hashfile C:\agent\_work\1\a\Contoso.Setup.msi SHA256".to_owned()),
                5 => (PS, format!(r#""{PS}" -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -Command ". 'C:\agent\_work\_temp\{g}.ps1'""#)),
                _ => (r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe", r"csc.exe /target:library /out:obj\Release\Contoso.Core.dll @obj\Release\csc.rsp".to_owned()),
            };
            self.inherit(step, t + 3_000 + i64::from(i) * 15_000, exe, cmd, truth);
        }
    }

    /// A false-positive burst: many children under one benign parent.
    pub fn benign_burst(&mut self, fam: BenignFamily) {
        let truth = self.new_truth(Label::Benign, fam.as_str(), None);
        let n = self.range(6, 30);
        let t = self.work_time();
        match fam {
            BenignFamily::AdminTools => self.burst_admin(&truth, t, n),
            BenignFamily::SoftwareInstall => self.burst_install(&truth, t, n),
            BenignFamily::AutomationScripts => self.burst_automation(&truth, t, n),
            BenignFamily::SecurityScan => self.burst_scan(&truth, t, n),
            BenignFamily::LobApp => self.burst_lob(&truth, t, n),
        }
    }

    /// A time within someone's session when one exists, else any time.
    pub fn work_time(&mut self) -> i64 {
        if !self.sessions.is_empty() && self.chance(0.8) {
            let s = self.d.rng_index(self.sessions.len());
            let (a, b) = (self.sessions[s].start, self.sessions[s].end);
            self.t_in(a + 60_000, b)
        } else {
            self.any_time()
        }
    }

    /// An admin session to hang admin activity on; logs one on when none exists.
    pub fn admin_session(&mut self, t: i64) -> usize {
        if let Some(s) = self.sessions.iter().position(|s| s.admin) {
            return s;
        }
        let admins = self.d.host.admins.clone();
        let a = admins[self.d.rng_index(admins.len())];
        self.logon(a, t - 600_000, t + 3_600_000)
    }

    fn burst_admin(&mut self, truth: &Truth, t: i64, n: u32) {
        match self.range(0, 3) {
            0 => {
                let s = self.admin_session(t);
                let (user, explorer) = (self.sessions[s].user, self.sessions[s].explorer);
                let shell = if self.chance(0.5) { CMD } else { PS };
                let sh = self.sp(
                    explorer,
                    t,
                    shell,
                    format!("\"{shell}\" "),
                    user,
                    Il::High,
                    truth,
                );
                for i in 0..n {
                    let c = self.pick(ADMIN_CMDS);
                    let c = self.fill(c, user);
                    let exe = image_of(&c);
                    let gap = i64::from(self.range(1_500, 20_000));
                    self.inherit(sh, t + 2_000 + i64::from(i) * gap, &exe, c, truth);
                }
            }
            1 => {
                let ccm = self.sys.ccmexec;
                for i in 0..n {
                    let tt = t + i64::from(i) * 3_000;
                    if self.chance(0.5) {
                        let b = self.fill("{B64}", SYSTEM);
                        self.console(ccm, tt, PS, format!(r#""{PS}" -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {b}"#), truth);
                    } else {
                        let c = self.pick(&[r#"C:\Windows\system32\cmd.exe /c "C:\Windows\ccmcache\1f\deploy.cmd""#, r#"C:\Windows\system32\msiexec.exe /i "C:\Windows\ccmcache\2a\ContosoAgent.msi" /qn /norestart"#, r"C:\Windows\system32\wbem\wmic.exe qfe list brief /format:csv"]);
                        let exe = image_of(c);
                        self.sp(ccm, tt, &exe, c.into(), SYSTEM, Il::System, truth);
                    }
                }
            }
            2 => {
                // An admin's PsExec arriving on this host: services → PSEXESVC → commands.
                let services = self.sys.services;
                let svc = self.sp(
                    services,
                    t,
                    r"C:\Windows\PSEXESVC.exe",
                    r"C:\Windows\PSEXESVC.exe".into(),
                    SYSTEM,
                    Il::System,
                    truth,
                );
                let admins = self.d.host.admins.clone();
                let a = admins[self.d.rng_index(admins.len())];
                for i in 0..n {
                    let c = self.pick(ADMIN_CMDS);
                    let c = self.fill(c, a);
                    let exe = image_of(&c);
                    self.sp(
                        svc,
                        t + 500 + i64::from(i) * 2_500,
                        &exe,
                        c,
                        a,
                        Il::High,
                        truth,
                    );
                }
            }
            _ => {
                let wmi = self.sys.wmiprvse;
                for i in 0..n {
                    let c = self.pick(&["powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\Intune\\Scripts\\{GUID}.ps1", "cmd.exe /c ipconfig /all > C:\\Windows\\Temp\\netcfg.txt", "powershell.exe -NoProfile -EncodedCommand {B64}", r"C:\Windows\system32\reg.exe query HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate"]);
                    let c = self.fill(c, SYSTEM);
                    let exe = image_of(&c);
                    self.sp(
                        wmi,
                        t + i64::from(i) * 4_000,
                        &exe,
                        c,
                        SYSTEM,
                        Il::System,
                        truth,
                    );
                }
            }
        }
    }

    fn burst_install(&mut self, truth: &Truth, t: i64, n: u32) {
        let vendor = self.pick(&["Contoso", "Zoom", "Adobe", "Citrix", "Cisco", "Notepad++"]);
        let (parent, user, il) = if self.chance(0.6) {
            let services = self.sys.services;
            let srv = self.sp(
                services,
                t,
                &format!("{S32}msiexec.exe"),
                r"C:\Windows\system32\msiexec.exe /V".into(),
                SYSTEM,
                Il::System,
                truth,
            );
            let g = self.fill("{GUID}", SYSTEM);
            let m = self.sp(
                srv,
                t + 400,
                &format!("{S32}msiexec.exe"),
                format!("C:\\Windows\\System32\\MsiExec.exe -Embedding {g} E Global\\MSI0000"),
                SYSTEM,
                Il::System,
                truth,
            );
            (m, SYSTEM, Il::System)
        } else {
            let ccm = self.sys.ccmexec;
            let setup = format!(
                r"C:\Windows\ccmcache\{}\setup.exe",
                self.fill("{HEX}", SYSTEM)
            );
            let s = self.sp(
                ccm,
                t,
                &setup,
                format!(r#""{setup}" /S /norestart"#),
                SYSTEM,
                Il::System,
                truth,
            );
            (s, SYSTEM, Il::System)
        };
        let pf = format!(r"C:\Program Files\{vendor}");
        for i in 0..n {
            let tt = t + 1_000 + i64::from(i) * self.range(200, 4_000) as i64;
            let msi = self.fill("{N}", user);
            let (exe, cmd) = match self.range(0, 10) {
                0 | 1 => (
                    format!("{S32}rundll32.exe"),
                    format!(
                        r#"rundll32.exe "C:\Windows\Installer\MSI{msi}A2.tmp",zzzzInvokeManagedCustomActionOutOfProc SfxCA_{msi} 17 {vendor}.CustomActions!{vendor}.CustomActions.Install"#
                    ),
                ),
                2 => (
                    format!("{S32}regsvr32.exe"),
                    format!(r#"regsvr32.exe /s "{pf}\shellext{msi}.dll""#),
                ),
                3 => (
                    CMD.to_owned(),
                    format!(r#"C:\Windows\system32\cmd.exe /c "{pf}\post_install.cmd""#),
                ),
                4 => (
                    format!("{S32}schtasks.exe"),
                    format!(
                        r#"schtasks.exe /Create /TN "{vendor}Update" /XML "{pf}\update_task.xml" /F"#
                    ),
                ),
                5 => (
                    format!("{S32}reg.exe"),
                    format!(
                        r#"reg.exe add "HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run" /v {vendor}Tray /t REG_SZ /d "\"{pf}\tray.exe\"" /f"#
                    ),
                ),
                6 => (
                    format!("{S32}sc.exe"),
                    format!(r#"sc.exe create {vendor}Svc binPath= "\"{pf}\svc.exe\"" start= auto"#),
                ),
                7 => (
                    r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\InstallUtil.exe".to_owned(),
                    format!(
                        r#""C:\Windows\Microsoft.NET\Framework64\v4.0.30319\InstallUtil.exe" /LogToConsole=false "{pf}\{vendor}.Service.dll""#
                    ),
                ),
                8 => (
                    r"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\RegAsm.exe".to_owned(),
                    format!(
                        r#""C:\Windows\Microsoft.NET\Framework64\v4.0.30319\RegAsm.exe" /codebase "{pf}\{vendor}.Interop.dll""#
                    ),
                ),
                9 => (
                    format!("{S32}certutil.exe"),
                    format!(r#"certutil.exe -addstore -f TrustedPublisher "{pf}\{vendor}.cer""#),
                ),
                _ => (
                    format!("{S32}netsh.exe"),
                    format!(
                        r#"netsh advfirewall firewall add rule name="{vendor}" dir=in action=allow program="{pf}\app.exe""#
                    ),
                ),
            };
            self.sp(parent, tt, &exe, cmd, user, il, truth);
        }
    }

    fn burst_automation(&mut self, truth: &Truth, t: i64, n: u32) {
        if self.d.host.role == Role::BuildServer && self.chance(0.7) {
            self.build_job(t, truth, n);
            return;
        }
        let sched = self.sys.svc_schedule;
        let svc = self.d.host.service;
        let (user, il) = match svc {
            Some(s) if self.chance(0.5) => (s, Il::High),
            _ => (SYSTEM, Il::System),
        };
        let script = self.pick(&[
            "nightly_backup.cmd",
            "cleanup_logs.bat",
            "sync_reports.cmd",
            "inventory.bat",
        ]);
        let c = self.sp(
            sched,
            t,
            CMD,
            format!(r#"C:\Windows\system32\cmd.exe /c "C:\Scripts\{script}""#),
            user,
            il,
            truth,
        );
        for i in 0..n {
            let c2 = self.pick(&[
                r"robocopy C:\Data \\{SERVER}\backup$\{WORD} /MIR /R:1 /W:1 /NP", r"xcopy /E /Y /Q C:\Reports \\{SERVER}\reports$", "forfiles /p C:\\Logs /s /m *.log /d -14 /c \"cmd /c del @path\"",
                r"reg query HKLM\SOFTWARE\Contoso /s", "schtasks /query /tn \\Contoso\\Nightly", "ping  -n 6 127.0.0.1", "net use Z: \\\\{SERVER}\\share /persistent:no",
                r"powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\Scripts\rotate.ps1", r"bitsadmin /transfer nightly /download /priority normal http://intranet.corp.contoso.com/pkg/defs.zip C:\Scripts\defs.zip",
                r"certutil -urlcache -split -f http://intranet.corp.contoso.com/certs/root.cer C:\Scripts\root.cer", r"cscript //nologo C:\Windows\System32\slmgr.vbs /ato", "wmic qfe get hotfixid,installedon",
            ]);
            let c2 = self.fill(c2, user);
            let exe = image_of(&c2);
            let gap = i64::from(self.range(300, 30_000));
            self.sp(c, t + 500 + i64::from(i) * gap, &exe, c2, user, il, truth);
        }
    }

    fn burst_scan(&mut self, truth: &Truth, t: i64, n: u32) {
        let (parent, mp) = if self.chance(0.35) {
            (self.sys.msmpeng, true)
        } else {
            (self.sys.agent, false)
        };
        for i in 0..n {
            let tt = t + i64::from(i) * self.range(100, 5_000) as i64;
            if mp {
                let exe = r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MpCmdRun.exe";
                let c = self.pick(&[
                    "-SignatureUpdate",
                    "-Scan -ScanType 1",
                    "GetFiles -SupportLogLocation",
                    "-wdenable",
                ]);
                self.sp(
                    parent,
                    tt,
                    exe,
                    format!("\"{exe}\" {c}"),
                    SYSTEM,
                    Il::System,
                    truth,
                );
            } else {
                let c = self.pick(&[
                    "cmd.exe /c netstat -ano", "cmd.exe /c ipconfig /all", "powershell.exe -NonInteractive -NoProfile -EncodedCommand {B64}", "wmic.exe /namespace:\\\\root\\SecurityCenter2 path AntiVirusProduct get displayName",
                    "systeminfo.exe /fo csv", r"reg.exe query HKLM\SYSTEM\CurrentControlSet\Services /s", "auditpol.exe /get /category:*", "whoami.exe /all", "tasklist.exe /svc /fo csv",
                    "net.exe localgroup administrators", "quser.exe", "sc.exe queryex type= service state= all",
                ]);
                let c = self.fill(c, SYSTEM);
                let exe = image_of(&c);
                self.console(parent, tt, &exe, c, truth);
            }
        }
    }

    fn burst_lob(&mut self, truth: &Truth, t: i64, n: u32) {
        let (parent, user) = match (
            self.sys.lob_service,
            self.sessions.first().map(|s| (s.explorer, s.user)),
        ) {
            (_, Some((explorer, user))) if self.chance(0.7) => {
                let exe = r"C:\Program Files (x86)\Contoso\ERP\erpclient.exe";
                let sig = if self.chance(0.5) {
                    Sig::Unsigned
                } else {
                    Sig::Signed("Contoso Ltd")
                };
                let p = self.d.spawn(
                    explorer,
                    t,
                    Spawn {
                        exe,
                        cmd: format!(r#""{exe}" /profile:prod"#),
                        user,
                        il: Il::Medium,
                        sig,
                        orig: None,
                    },
                    truth,
                );
                (p, user)
            }
            (Some(svc), _) => (svc, self.d.procs[svc].user),
            _ => (self.sys.svc_schedule, SYSTEM),
        };
        for i in 0..n {
            let c = self.pick(&[
                r#"C:\Windows\system32\cmd.exe /c "C:\Program Files (x86)\Contoso\ERP\print_label.bat" {N}"#, r#""C:\Program Files\Java\jre1.8.0_401\bin\java.exe" -jar "C:\Program Files (x86)\Contoso\ERP\report.jar" --id {N}"#,
                r#""C:\Windows\System32\WScript.exe" "C:\Program Files (x86)\Contoso\ERP\helper.vbs" /export"#, r#"rundll32.exe "C:\Program Files (x86)\Contoso\ERP\erpprint.dll",PrintJob {N}"#,
                r#""C:\Windows\System32\mshta.exe" "C:\Program Files (x86)\Contoso\ERP\timesheet.hta""#, r#"powershell.exe -NoProfile -ExecutionPolicy Bypass -File "C:\Program Files (x86)\Contoso\ERP\sync.ps1""#,
                r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "C:\Users\Public\Documents\erp_export_{N}.csv""#,
            ]);
            let c = self.fill(c, user);
            let exe = image_of(&c);
            let gap = i64::from(self.range(500, 60_000));
            self.inherit(parent, t + 1_000 + i64::from(i) * gap, &exe, c, truth);
        }
    }

    /// Log on the humans (and sometimes an admin) who use this host today.
    pub fn start_sessions(&mut self) {
        let host = self.d.host;
        let t0 = self.d.t0;
        let work = |s: &mut Sim<'_>, start_h: i64| -> (i64, i64) {
            let a = t0 + start_h * 3_600_000 + s.range(0, 90) as i64 * 60_000;
            let b = a + (8 * 60 + s.range(0, 150) as i64) * 60_000;
            (a, b)
        };
        if let Some(u) = host.primary {
            if self.weekday && self.chance(0.93) || !self.weekday && self.chance(0.08) {
                let (a, b) = work(self, 7);
                self.logon(u, a, b.min(t0 + super::world::DAY_MS - 1));
            }
        }
        let admin_p = match host.role {
            Role::Workstation => 0.03,
            Role::Server => 0.35,
            Role::DomainController => 0.6,
            Role::BuildServer => 0.25,
        };
        if self.chance(if self.weekday { admin_p } else { admin_p / 4.0 }) {
            let a = host.admins[self.d.rng_index(host.admins.len())];
            let (s, e) = work(self, 8);
            let e = s + (e - s) / 3;
            self.logon(a, s, e);
        }
        let _ = UserKind::Human;
    }
}
