//! Generator settings: a loose, file-friendly [`SynthConfig`] checked once into
//! [`SynthParams`], so the generator never re-validates and never meets a bad value.

use super::telemetry::Telemetry;
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Host roles of the fleet. Roles shape volume, users and which activities happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Workstation,
    Server,
    DomainController,
    BuildServer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Workstation,
        Role::Server,
        Role::DomainController,
        Role::BuildServer,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Workstation => "workstation",
            Role::Server => "server",
            Role::DomainController => "domain-controller",
            Role::BuildServer => "build-server",
        }
    }
}

/// The false-positive families of the ProblemChild rule: benign bursts of many children
/// under one parent, the hard negatives of the cluster model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BenignFamily {
    AdminTools,
    SoftwareInstall,
    AutomationScripts,
    SecurityScan,
    LobApp,
}

impl BenignFamily {
    pub const ALL: [BenignFamily; 5] = [
        BenignFamily::AdminTools,
        BenignFamily::SoftwareInstall,
        BenignFamily::AutomationScripts,
        BenignFamily::SecurityScan,
        BenignFamily::LobApp,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            BenignFamily::AdminTools => "admin-tools",
            BenignFamily::SoftwareInstall => "software-install",
            BenignFamily::AutomationScripts => "automation-scripts",
            BenignFamily::SecurityScan => "security-scan",
            BenignFamily::LobApp => "lob-app",
        }
    }
}

/// Attack scenario families; each scenario is a short burst under one parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttackFamily {
    ProxyExecution,
    Masquerading,
    OfficeMacro,
    Wmi,
    ScriptHost,
    CredentialDumping,
    Discovery,
    Persistence,
    LateralMovement,
}

impl AttackFamily {
    pub const ALL: [AttackFamily; 9] = [
        AttackFamily::ProxyExecution,
        AttackFamily::Masquerading,
        AttackFamily::OfficeMacro,
        AttackFamily::Wmi,
        AttackFamily::ScriptHost,
        AttackFamily::CredentialDumping,
        AttackFamily::Discovery,
        AttackFamily::Persistence,
        AttackFamily::LateralMovement,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AttackFamily::ProxyExecution => "proxy-execution",
            AttackFamily::Masquerading => "masquerading",
            AttackFamily::OfficeMacro => "office-macro",
            AttackFamily::Wmi => "wmi",
            AttackFamily::ScriptHost => "script-host",
            AttackFamily::CredentialDumping => "credential-dumping",
            AttackFamily::Discovery => "discovery",
            AttackFamily::Persistence => "persistence",
            AttackFamily::LateralMovement => "lateral-movement",
        }
    }
}

/// What a user writes (CLI flags or a TOML file under `datasets/`). Unknown keys are
/// rejected so a typo cannot silently fall back to a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    pub hosts: u32,
    pub days: u32,
    pub seed: u64,
    /// First day, `YYYY-MM-DD` (UTC). A Monday by default so weekends fall on days 5–6.
    pub start_date: String,
    /// Expected attack scenarios per host per day.
    pub attack_rate: f64,
    /// Expected benign false-positive bursts per host per day.
    pub benign_burst_rate: f64,
    /// Share of attack command lines that get obfuscated.
    pub obfuscation_rate: f64,
    /// Multiplier on ordinary background volume (1.0 ≈ 1,000–4,000 starts per host-day).
    pub volume: f64,
    /// Relative weights of host roles.
    pub roles: BTreeMap<String, f64>,
    pub benign_families: BTreeMap<String, f64>,
    pub attack_families: BTreeMap<String, f64>,
    /// Relative weights of the sources hosts report through (`elastic-defend`, `sysmon`,
    /// `security-4688`); each source strips the fields it does not carry.
    pub telemetry: BTreeMap<String, f64>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        let w = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        SynthConfig {
            hosts: 200,
            days: 7,
            seed: 1,
            start_date: "2026-01-05".into(),
            attack_rate: 0.25,
            benign_burst_rate: 0.6,
            obfuscation_rate: 0.3,
            volume: 1.0,
            roles: w(&[
                ("workstation", 0.75),
                ("server", 0.15),
                ("domain-controller", 0.03),
                ("build-server", 0.07),
            ]),
            benign_families: w(&[
                ("admin-tools", 1.0),
                ("software-install", 1.0),
                ("automation-scripts", 1.0),
                ("security-scan", 1.0),
                ("lob-app", 1.0),
            ]),
            attack_families: AttackFamily::ALL
                .iter()
                .map(|f| (f.as_str().to_owned(), 1.0))
                .collect(),
            telemetry: w(&[
                ("elastic-defend", 0.4),
                ("sysmon", 0.4),
                ("security-4688", 0.2),
            ]),
        }
    }
}

impl SynthConfig {
    /// Read a TOML file; keys it omits keep their defaults.
    pub fn from_toml_file(path: &Path) -> Result<SynthConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|source| Error::Toml {
            path: path.to_owned(),
            source,
        })
    }

    /// Validate once into the checked form the generator uses.
    pub fn check(&self) -> Result<SynthParams, Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.hosts == 0 || self.days == 0 {
            return bad("hosts and days must be at least 1".into());
        }
        let start = match chrono::NaiveDate::parse_from_str(&self.start_date, "%Y-%m-%d") {
            Ok(d) => d,
            Err(e) => return bad(format!("start_date {:?}: {e}", self.start_date)),
        };
        for (name, v) in [
            ("attack_rate", self.attack_rate),
            ("benign_burst_rate", self.benign_burst_rate),
            ("volume", self.volume),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!(
                    "{name} must be a finite non-negative number, got {v}"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.obfuscation_rate) {
            return bad(format!(
                "obfuscation_rate must be in [0, 1], got {}",
                self.obfuscation_rate
            ));
        }
        let roles = weights(&self.roles, &Role::ALL, Role::as_str, "roles")?;
        let benign = weights(
            &self.benign_families,
            &BenignFamily::ALL,
            BenignFamily::as_str,
            "benign_families",
        )?;
        let attack = weights(
            &self.attack_families,
            &AttackFamily::ALL,
            AttackFamily::as_str,
            "attack_families",
        )?;
        let telemetry = weights(
            &self.telemetry,
            &Telemetry::ALL,
            Telemetry::as_str,
            "telemetry",
        )?;
        let start_ms = start
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or(0);
        let start_weekday = start.weekday_index();
        Ok(SynthParams {
            hosts: self.hosts,
            days: self.days,
            seed: self.seed,
            start_ms,
            start_weekday,
            attack_rate: self.attack_rate,
            benign_burst_rate: self.benign_burst_rate,
            obfuscation_rate: self.obfuscation_rate,
            volume: self.volume,
            roles,
            benign_families: benign,
            attack_families: attack,
            telemetry,
        })
    }
}

trait WeekdayIndex {
    fn weekday_index(&self) -> u32;
}
impl WeekdayIndex for chrono::NaiveDate {
    fn weekday_index(&self) -> u32 {
        use chrono::Datelike;
        self.weekday().num_days_from_monday()
    }
}

/// Weights keyed by name, validated against the known names and normalised to sum 1.
fn weights<T: Copy>(
    map: &BTreeMap<String, f64>,
    all: &[T],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<Vec<(T, f64)>, Error> {
    for (k, v) in map {
        if !all.iter().any(|t| name(*t) == k) {
            let known: Vec<_> = all.iter().map(|t| name(*t)).collect();
            return Err(Error::Config(format!(
                "{what}: unknown name {k:?} (known: {})",
                known.join(", ")
            )));
        }
        if !v.is_finite() || *v < 0.0 {
            return Err(Error::Config(format!(
                "{what}.{k}: weight must be >= 0, got {v}"
            )));
        }
    }
    let total: f64 = map.values().sum();
    if total <= 0.0 {
        return Err(Error::Config(format!("{what}: weights sum to zero")));
    }
    Ok(all
        .iter()
        .map(|t| (*t, map.get(name(*t)).copied().unwrap_or(0.0) / total))
        .collect())
}

/// Checked generator parameters; weights are normalised and in enum order.
#[derive(Debug, Clone)]
pub struct SynthParams {
    pub hosts: u32,
    pub days: u32,
    pub seed: u64,
    pub start_ms: i64,
    /// 0 = Monday.
    pub start_weekday: u32,
    pub attack_rate: f64,
    pub benign_burst_rate: f64,
    pub obfuscation_rate: f64,
    pub volume: f64,
    pub roles: Vec<(Role, f64)>,
    pub benign_families: Vec<(BenignFamily, f64)>,
    pub attack_families: Vec<(AttackFamily, f64)>,
    pub telemetry: Vec<(Telemetry, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_normalise() {
        let p = SynthConfig::default().check().unwrap();
        let s: f64 = p.attack_families.iter().map(|x| x.1).sum();
        assert!((s - 1.0).abs() < 1e-9);
        assert_eq!(p.start_weekday, 0);
    }

    #[test]
    fn bad_values_are_rejected_with_their_name() {
        let mut c = SynthConfig::default();
        c.attack_families.insert("phishing".into(), 1.0);
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("phishing"), "{e}");
        let c = SynthConfig {
            attack_rate: -1.0,
            ..SynthConfig::default()
        };
        assert!(c.check().unwrap_err().to_string().contains("attack_rate"));
        let c = SynthConfig {
            start_date: "yesterday".into(),
            ..SynthConfig::default()
        };
        assert!(c.check().is_err());
    }

    #[test]
    fn shipped_config_files_are_valid_and_the_default_file_matches_the_defaults() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
        let default = SynthConfig::from_toml_file(&dir.join("synth-default.toml")).unwrap();
        assert_eq!(default, SynthConfig::default());
        let heavy = SynthConfig::from_toml_file(&dir.join("synth-attack-heavy.toml")).unwrap();
        assert!(heavy.check().unwrap().attack_rate > 1.0);
    }

    #[test]
    fn toml_overrides_keep_defaults() {
        let c: SynthConfig = toml::from_str("hosts = 3\n[attack_families]\nwmi = 2.0\n").unwrap();
        assert_eq!(c.hosts, 3);
        assert_eq!(c.days, 7);
        let p = c.check().unwrap();
        let wmi = p
            .attack_families
            .iter()
            .find(|x| x.0 == AttackFamily::Wmi)
            .unwrap();
        assert!((wmi.1 - 1.0).abs() < 1e-9);
        assert!(toml::from_str::<SynthConfig>("hostz = 3").is_err());
    }
}
