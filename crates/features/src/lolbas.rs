//! Legitimate locations of system binaries, from the LOLBAS project's `Full_Path` entries
//! plus the core Windows processes malware imitates (`data/lolbas_paths.tsv`, regenerated
//! by `tools/gen_lolbas.py`).

use crate::fasthash::FastBuild;
use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/lolbas_paths.tsv");

/// Names (lower-case) → their legitimate directories, each split into segments, with `*`
/// matching any one segment and the drive left out.
pub struct SystemBinaries {
    dirs: HashMap<&'static str, Vec<Vec<&'static str>>, FastBuild>,
    /// All names, grouped by length in bytes, for the look-alike search.
    by_len: Vec<Vec<&'static str>>,
}

pub fn system_binaries() -> &'static SystemBinaries {
    static T: OnceLock<SystemBinaries> = OnceLock::new();
    T.get_or_init(|| {
        let mut dirs: HashMap<&'static str, Vec<Vec<&'static str>>, FastBuild> = HashMap::default();
        for line in TABLE.lines() {
            if let Some((name, dir)) = line.split_once('\t') {
                let segs = dir.split('\\').filter(|s| !s.is_empty()).collect();
                dirs.entry(name).or_default().push(segs);
            }
        }
        let mut by_len: Vec<Vec<&'static str>> = Vec::new();
        let mut names: Vec<&'static str> = dirs.keys().copied().collect();
        names.sort_unstable();
        for n in names {
            if by_len.len() <= n.len() {
                by_len.resize(n.len() + 1, Vec::new());
            }
            by_len[n.len()].push(n);
        }
        SystemBinaries { dirs, by_len }
    })
}

/// Longest name considered by the look-alike search (longer names are never system names).
const MAX_LOOKALIKE_LEN: usize = 40;

impl SystemBinaries {
    pub fn contains(&self, lower_name: &str) -> bool {
        self.dirs.contains_key(lower_name)
    }

    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// For a known system binary name: is the lower-cased executable outside all of its
    /// legitimate directories? `None` when the name is not a system binary or the path has
    /// no directory.
    pub fn outside_legit_dirs(&self, lower_name: &str, lower_exe: &str) -> Option<bool> {
        let legit = self.dirs.get(lower_name)?;
        let dir = lower_exe.rsplit_once(['\\', '/'])?.0;
        // Drop `\\?\`, a drive letter, or a `\device\harddiskvolumeN` prefix.
        let dir = dir.strip_prefix(r"\\?\").unwrap_or(dir);
        let dir = match dir.as_bytes() {
            [d, b':', ..] if d.is_ascii_alphabetic() => &dir[2..],
            _ => match dir.strip_prefix(r"\device\") {
                Some(rest) => rest.split_once('\\').map_or("", |(_, r)| r),
                None => dir,
            },
        };
        let segs = dir.split(['\\', '/']).filter(|s| !s.is_empty());
        let inside = legit.iter().any(|pat| {
            let mut it = segs.clone();
            pat.iter()
                .all(|p| it.next().is_some_and(|s| *p == "*" || *p == s))
                && it.next().is_none()
        });
        Some(!inside)
    }

    /// Highest Jaro–Winkler similarity between a name that is *not* a system binary and
    /// any system binary name of similar length; 0 for system names themselves.
    pub fn lookalike(&self, lower_name: &str) -> f32 {
        if lower_name.is_empty()
            || lower_name.len() > MAX_LOOKALIKE_LEN
            || self.contains(lower_name)
        {
            return 0.0;
        }
        let l = lower_name.len();
        let mut best = 0.0f64;
        for len in l.saturating_sub(2)..=(l + 2) {
            for cand in self.by_len.get(len).map(Vec::as_slice).unwrap_or(&[]) {
                let s = jaro_winkler(lower_name, cand);
                if s > best {
                    best = s;
                }
            }
        }
        best as f32
    }
}

/// Jaro–Winkler similarity, as `strsim::jaro_winkler` computes it; ASCII names (all of
/// the system names, nearly all process names) are compared as bytes with the match flags
/// on the stack: the generic version counts and allocates per pair, and the look-alike scan
/// runs a hundred pairs per new name.
fn jaro_winkler(a_text: &str, b_text: &str) -> f64 {
    const MAX: usize = 64;
    let (a, b) = (a_text.as_bytes(), b_text.as_bytes());
    if !a.is_ascii() || !b.is_ascii() || a.len() > MAX || b.len() > MAX {
        return strsim::jaro_winkler(a_text, b_text);
    }
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = ([false; MAX], [false; MAX]);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = b.len().min(i + range + 1);
        for j in lo..hi {
            if x == b[j] && !b_flags[j] {
                a_flags[i] = true;
                b_flags[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut in_b = b.iter().zip(&b_flags).filter(|(_, f)| **f).map(|(c, _)| c);
    for (x, _) in a.iter().zip(&a_flags).filter(|(_, f)| **f) {
        if in_b.next() != Some(x) {
            transpositions += 1;
        }
    }
    transpositions /= 2;
    let m = matches as f64;
    let sim =
        (m / a.len() as f64 + m / b.len() as f64 + (matches - transpositions) as f64 / m) / 3.0;
    if sim > 0.7 {
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn jaro_winkler_equals_strsim(a in "[a-e.é]{0,14}", b in "[a-e.]{0,14}") {
            prop_assert_eq!(jaro_winkler(&a, &b).to_bits(), strsim::jaro_winkler(&a, &b).to_bits());
        }
    }

    #[test]
    fn legit_dirs() {
        let t = system_binaries();
        assert!(t.len() > 200);
        assert_eq!(
            t.outside_legit_dirs("cmd.exe", r"c:\windows\system32\cmd.exe"),
            Some(false)
        );
        assert_eq!(
            t.outside_legit_dirs("cmd.exe", r"d:\windows\syswow64\cmd.exe"),
            Some(false)
        );
        assert_eq!(
            t.outside_legit_dirs("cmd.exe", r"c:\users\bob\cmd.exe"),
            Some(true)
        );
        assert_eq!(
            t.outside_legit_dirs("cmd.exe", r"c:\windows\system32\x\cmd.exe"),
            Some(true)
        );
        assert_eq!(
            t.outside_legit_dirs("svchost.exe", r"c:\windows\svchost.exe"),
            Some(true)
        );
        assert_eq!(
            t.outside_legit_dirs(
                "csc.exe",
                r"c:\windows\microsoft.net\framework64\v4.0.30319\csc.exe"
            ),
            Some(false)
        );
        assert_eq!(
            t.outside_legit_dirs(
                "svchost.exe",
                r"\device\harddiskvolume2\windows\system32\svchost.exe"
            ),
            Some(false)
        );
        assert_eq!(
            t.outside_legit_dirs("notepadpp.exe", r"c:\x\notepadpp.exe"),
            None
        );
        assert_eq!(t.outside_legit_dirs("cmd.exe", "cmd.exe"), None);
    }

    #[test]
    fn lookalikes() {
        let t = system_binaries();
        assert!(t.lookalike("scvhost.exe") > 0.95);
        assert_eq!(t.lookalike("svchost.exe"), 0.0);
        assert!(t.lookalike("chrome.exe") < t.lookalike("scvhost.exe"));
    }
}
