//! `lotl synth`: a deterministic synthetic Windows fleet with ground truth on every event.
//!
//! Generation is per host-day: each host-day has its own ChaCha8 stream seeded from
//! `xxh3(seed, host, day)`, so output is byte-identical for a seed, host-days can be
//! produced in any order (or in parallel), and a fleet of any size streams through a
//! bounded buffer ([`Generator::for_each_host_day`]).
//!
//! Every event carries `label`, `scenario_id` (`bg-<host>-d<day>` for background,
//! `fp-…` for benign bursts, `atk-…` for attacks), `family` (`background`, a benign
//! false-positive family, or an attack family) and, for malicious events, the ATT&CK
//! `technique` of that step. An attack's events are exactly its root process and the
//! root's descendants; its parent is an ordinary benign process.

mod attack;
mod benign;
pub mod config;
pub mod fill;
pub mod ndjson;
mod sim;
pub mod telemetry;
pub mod templates;
pub mod world;

pub use config::{AttackFamily, BenignFamily, Role, SynthConfig, SynthParams};
pub use telemetry::Telemetry;
pub use templates::TemplateBank;

use lotl_events::ProcessEvent;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim::Sim;
use world::{pick, poisson, Day, Fleet, DAY_MS};

/// Background process starts per host-day at `volume = 1`, by role.
fn base_volume(role: Role) -> f64 {
    match role {
        Role::Workstation => 900.0,
        Role::Server => 1_400.0,
        Role::DomainController => 2_200.0,
        Role::BuildServer => 2_600.0,
    }
}

pub struct Generator {
    params: SynthParams,
    fleet: Fleet,
    bank: TemplateBank,
}

impl Generator {
    pub fn new(params: SynthParams, bank: TemplateBank) -> Generator {
        let fleet = Fleet::new(&params);
        Generator {
            params,
            fleet,
            bank,
        }
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    pub fn params(&self) -> &SynthParams {
        &self.params
    }

    /// Append one host-day's events, sorted by time, to `out`.
    pub fn host_day(&self, host: usize, day: u32, out: &mut Vec<ProcessEvent>) {
        let key = [self.params.seed, host as u64, u64::from(day)];
        let mut bytes = [0u8; 24];
        for (i, k) in key.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&k.to_le_bytes());
        }
        let rng = ChaCha8Rng::seed_from_u64(xxhash_rust::xxh3::xxh3_64(&bytes));
        let start = out.len();
        let t0 = self.params.start_ms + i64::from(day) * DAY_MS;
        {
            let d = Day::new(rng, &self.fleet, host, day, t0, out);
            let mut sim = Sim::new(d, &self.params, &self.bank);
            sim.start_sessions();
            let role = sim.d.host.role;
            let weekday_factor = if sim.weekday { 1.0 } else { 0.45 };
            let mean = base_volume(role) * self.params.volume * weekday_factor;
            let n = poisson(&mut sim.d.rng, mean);
            // Count emitted events, not activities: one activity emits one to a dozen.
            let target = sim.d.out.len() + n as usize;
            while sim.d.out.len() < target {
                sim.background_once();
            }
            for _ in 0..poisson(&mut sim.d.rng, self.params.benign_burst_rate) {
                let fam = pick(&mut sim.d.rng, &self.params.benign_families);
                sim.benign_burst(fam);
            }
            for _ in 0..poisson(&mut sim.d.rng, self.params.attack_rate) {
                let fam = pick(&mut sim.d.rng, &self.params.attack_families);
                sim.attack(fam);
            }
        }
        out[start..].sort_by_key(|e| e.timestamp_ms);
        let telemetry = self.fleet.hosts[host].telemetry;
        for (i, e) in out[start..].iter_mut().enumerate() {
            e.event_id = lotl_events::format_compact!("{host}-{day}-{i}");
            telemetry.shape(e);
        }
    }

    /// Every host-day in order (day-major, so time advances across the stream), each
    /// handed to `f` and then dropped: memory stays at one host-day.
    pub fn for_each_host_day<E>(
        &self,
        mut f: impl FnMut(&[ProcessEvent]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut buf = Vec::new();
        for day in 0..self.params.days {
            for host in 0..self.params.hosts as usize {
                buf.clear();
                self.host_day(host, day, &mut buf);
                f(&buf)?;
            }
        }
        Ok(())
    }

    /// The whole fleet in memory (small fleets, tests).
    pub fn generate(&self) -> Vec<ProcessEvent> {
        let mut all = Vec::new();
        for day in 0..self.params.days {
            for host in 0..self.params.hosts as usize {
                self.host_day(host, day, &mut all);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests;
