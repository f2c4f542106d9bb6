//! Elastic's ProblemChild recipes, `elastic2021` (476 features) and `elastic2026` (485),
//! exactly as `shared/spec/elastic-problemchild.md` sections 2–3 describe them.
//!
//! Where the spec leaves a choice open, the choice made here:
//! - fallbacks apply to the raw field (first non-empty source); a string that becomes empty
//!   through normalisation (`""` as a command line) stays empty;
//! - `normalized_ppath` is computed on the lower-cased raw executable; `users\*\` means one
//!   path segment;
//! - `ends_with_exe` and `filename_mismatch` compare case-sensitively, as the original does;
//! - an empty (normalised) string has one bigram position holding `""`;
//! - 2026: `cmd_obfuscation` counts carets of the lower-cased command line, and the carets
//!   are stripped before the other substitutions, so `c^m^d` normalises like `cmd`.
//!   Keyword flags run on the fully normalised command line; as backslash runs are
//!   collapsed by then, the `sc` + `\\` test of `lateral_movement` cannot fire (faithful to
//!   the spec's order; a golden test records it).
//! - The 2021 blocklist is not a model input: see [`blocklist_hit`].

use crate::recipe::FeatureRecipe;
use crate::row::{FeatureRow, FeatureSpec, Scratch};
use crate::text::{self, path_class, PathClass};
use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::Anchored;
use lotl_events::ProcessEvent;
use std::sync::OnceLock;

/// Which generation of the recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Y2021,
    Y2026,
}

/// The five strings cut into positional bigrams, with the number of positions used.
pub const BIGRAM_FIELDS: [(&str, usize); 5] = [
    ("process_name", 66),
    ("parent_name", 100),
    ("process_executable", 100),
    ("parent_executable", 100),
    ("command_line", 100),
];

/// Scalar features shared by both generations, in order (categoricals first).
const SCALARS: [(&str, bool, &str); 10] = [
    ("event_action", true, "event.action, else \"unknown\"."),
    ("elevation_type", true, "Token elevation type (default/full/limited), else \"unknown\"."),
    ("integrity_level", true, "Token integrity level name, else \"unknown\"."),
    ("normalized_ppath", true, "Directory class of the process executable (win_system_dir, win_temp_dir, ... first match wins)."),
    ("elevated", false, "Token elevated; else 1 when an elevation type is present; else 0."),
    ("signed", false, "Code signature exists (1/0; absent = 0)."),
    ("signer_trusted", false, "Code signature trusted (1/0; absent = 0)."),
    ("filename_mismatch", false, "1 when process_name differs from the PE original file name (both with fallback \"unknown\")."),
    ("running_as_system", false, "1 when user.id is S-1-5-18, S-1-5-19 or S-1-5-20."),
    ("ends_with_exe", false, "1 when process_name contains \".exe\" (case-sensitive contains, as in the original)."),
];

/// The eight 2026 keyword families, in feature order.
pub const FAMILIES_2026: [&str; 8] = [
    "credential_access",
    "download_cradle",
    "lateral_movement",
    "kerberoasting",
    "recon",
    "defense_evasion",
    "persistence",
    "exfiltration",
];

/// 2021 blocklist keywords (lower-case substrings of the normalised command line).
pub const BLOCKLIST_2021: [&str; 37] = [
    "dump",
    "-embedding",
    "privilege",
    "administrator",
    "password",
    "key",
    "shadowcopy",
    "delete",
    "masquerade",
    "evil",
    "bad",
    "anonymous",
    "allprofiles",
    ".hta",
    "createobject",
    "target",
    "suspicious",
    "obfuscated",
    "bypass",
    "bootstatuspolicy",
    "recoveryenabled",
    "systemstatebackup",
    "comspec",
    "base64string",
    ".text.encoding",
    ".compression.",
    "memorystream",
    "writeallbytes",
    "webclient",
    "downloadfile",
    "downloadstring",
    "bitstransfer",
    "invoke-exp",
    "invoke-web",
    "reflection.assembly",
    "assembly.gettype",
    "sockets",
];

/// Needles of the 2026 families. Single words set their family directly; the others are
/// parts of conjunctions evaluated in [`families_2026`].
const NEEDLES_2026: &[&str] = &[
    // 0..9 credential_access
    "sekurlsa",
    "mimikatz",
    "logonpasswords",
    "lsadump",
    "dcsync",
    "procdump",
    "gsecdump",
    "hashdump",
    "wce.exe",
    // 9..17 download_cradle
    "certutil",
    "bitsadmin",
    "invoke-webrequest",
    "net.webclient",
    "downloadstring",
    "bitstransfer",
    "desktopimgdownldr",
    "urldownloadtofile",
    // 17..21 lateral_movement words
    "psexec",
    "winrs",
    "new-pssession",
    "invoke-command",
    // 21..27 kerberoasting
    "rubeus",
    "kerberoast",
    "asktgt",
    "krbtgt",
    "domainspnticket",
    "asreproast",
    // 27..29 recon words
    "whoami",
    "nltest",
    // 29..37 defense_evasion
    "-exec bypass",
    "-encodedcommand",
    "iex ",
    "iex(",
    "invoke-expression",
    "set-mppreference",
    "disablerealtimemonitoring",
    "-enc ",
    // 37..40 persistence words
    "runonce",
    "new-scheduledtask",
    "register-scheduledtask",
    // 40..43 exfiltration words
    "writeallbytes",
    "compress-archive",
    "base64string",
    // 43.. conjunction parts
    "wmic",
    "node",
    "schtasks",
    "/s ",
    "sc ",
    "\\\\",
    "net ",
    " user",
    " group",
    " localgroup",
    "/create",
    "reg add",
    "hklm",
    "hkcu",
    "-encode",
];

/// Position of `n` in [`NEEDLES_2026`], evaluated at compile time (a name missing from the
/// list fails the build instead of silently never matching).
const fn needle_index(n: &str) -> usize {
    let mut i = 0;
    while i < NEEDLES_2026.len() {
        let a = NEEDLES_2026[i].as_bytes();
        let b = n.as_bytes();
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("needle not in NEEDLES_2026")
}

/// A full DFA: the needle sets are small, and one table lookup per byte is all a scan
/// costs (same matches, same semantics as the default automaton).
pub(crate) fn dfa<I, P>(needles: I) -> Result<DFA, aho_corasick::BuildError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    DFA::new(needles)
}

/// Call `f` with the pattern index of every match of `dfa` in `haystack`, overlapping
/// matches included, as `find_overlapping_iter` reports them. The loop walks the DFA
/// directly: per call the iterator's set-up cost more than scanning a command line.
#[inline]
pub(crate) fn for_each_match(dfa: &DFA, haystack: &[u8], mut f: impl FnMut(usize)) {
    // An unanchored start state exists for every DFA built by `DFA::new`.
    let Ok(mut sid) = dfa.start_state(Anchored::No) else {
        return;
    };
    for &b in haystack {
        sid = dfa.next_state(Anchored::No, sid, b);
        if dfa.is_special(sid) && dfa.is_match(sid) {
            for i in 0..dfa.match_len(sid) {
                f(dfa.match_pattern(sid, i).as_usize());
            }
        }
    }
}

/// The 2026 keyword needles followed by the 2021 blocklist, in one automaton: both are
/// tested on the same normalised command line, so one scan serves both.
fn keyword_automaton() -> &'static DFA {
    static AC: OnceLock<DFA> = OnceLock::new();
    AC.get_or_init(|| {
        // The needle lists are constants: building cannot fail at run time.
        dfa(NEEDLES_2026.iter().chain(BLOCKLIST_2021.iter()))
            .unwrap_or_else(|e| unreachable!("constant needles: {e}"))
    })
}

/// Bit set of the 2026 needles found in `s`, and whether a 2021 blocklist keyword is.
fn keyword_hits(s: &str) -> (u64, bool) {
    const _: () = assert!(
        NEEDLES_2026.len() <= 64,
        "the needle hits are a u64 bit set"
    );
    let (mut m, mut blocklist) = (0u64, false);
    for_each_match(keyword_automaton(), s.as_bytes(), |p| {
        if p < NEEDLES_2026.len() {
            m |= 1 << p;
        } else {
            blocklist = true;
        }
    });
    (m, blocklist)
}

/// The eight 2026 family flags of a normalised command line, in [`FAMILIES_2026`] order.
pub fn families_2026(normalized_command_line: &str) -> [bool; 8] {
    families_and_blocklist(normalized_command_line).0
}

/// [`families_2026`] and [`blocklist_hit`] of one normalised command line, in one scan.
pub fn families_and_blocklist(normalized_command_line: &str) -> ([bool; 8], bool) {
    let (m, blocklist) = keyword_hits(normalized_command_line);
    let bit = |i: usize| m & (1 << i) != 0;
    macro_rules! has {
        ($n:literal) => {{
            const I: usize = needle_index($n);
            bit(I)
        }};
    }
    let range = |a: usize, b: usize| m & (((1u64 << b) - 1) & !((1u64 << a) - 1)) != 0;
    let families = [
        range(0, 9),
        range(9, 17),
        range(17, 21)
            || (has!("wmic") && has!("node"))
            || (has!("schtasks") && has!("/s "))
            || (has!("sc ") && has!("\\\\")),
        range(21, 27),
        range(27, 29) || (has!("net ") && (has!(" user") || has!(" group") || has!(" localgroup"))),
        range(29, 37),
        range(37, 40)
            || (has!("schtasks") && has!("/create"))
            || (has!("reg add") && (has!("hklm") || has!("hkcu"))),
        range(40, 43) || (has!("certutil") && has!("-encode")),
    ];
    (families, blocklist)
}

/// 2021's post-prediction blocklist: does the normalised command line hold a keyword?
pub fn blocklist_hit(normalized_command_line: &str) -> bool {
    keyword_hits(normalized_command_line).1
}

/// First non-empty string, else `"unknown"`.
pub(crate) fn or_unknown(v: Option<&str>) -> &str {
    match v {
        Some(s) if !s.is_empty() => s,
        _ => "unknown",
    }
}

/// What [`command_line_source`] reads instead of the command line, for
/// [`FeatureRecipe::fallback_columns`]: decoding every event's argument list when nearly
/// every event has a command line was an eighth of `lotl features`' time.
pub(crate) const COMMAND_LINE_FALLBACK: &[(&str, &str)] =
    &[("process.args", "process.command_line")];

/// The spec's command-line source: the command line (borrowed from the event), else the
/// arguments joined by a space (built in `joined`); `None` when the event has neither.
pub(crate) fn command_line_source<'a>(
    e: &'a ProcessEvent,
    joined: &'a mut String,
) -> Option<&'a str> {
    match e.process_command_line.as_deref() {
        Some(s) if !s.is_empty() => Some(s),
        _ if !e.process_args.is_empty() => {
            joined.clear();
            for (i, a) in e.process_args.iter().enumerate() {
                if i > 0 {
                    joined.push(' ');
                }
                joined.push_str(a);
            }
            Some(joined)
        }
        _ => None,
    }
}

/// Normalised (lower-cased, substituted) command line of an event, as Elastic's recipe of
/// `generation` sees it; also returns the 2026 caret flag.
pub fn normalized_command_line(e: &ProcessEvent, generation: Generation) -> (String, bool) {
    let cl = normalize_command_into(e, generation, &mut Scratch::default());
    (cl.normalized.to_string(), cl.caret)
}

thread_local! {
    /// What each recipe derives from a raw command line alone (see `crate::memo`).
    static NORMALIZED_CL: std::cell::RefCell<crate::memo::Memo<CommandLine>> =
        std::cell::RefCell::new(crate::memo::Memo::default());
}

struct CommandLine {
    normalized: Box<str>,
    caret: bool,
    /// [`families_2026`] of the normalised command line (2026 recipe only).
    families: [bool; 8],
}

/// The normalised command line of an event, its caret flag and, for the 2026 recipe, its
/// keyword families: memoised per thread by the raw command line.
fn normalize_command_into(
    e: &ProcessEvent,
    generation: Generation,
    s: &mut Scratch,
) -> std::rc::Rc<CommandLine> {
    let raw = command_line_source(e, &mut s.c).unwrap_or("unknown");
    let (lower, norm, tmp) = (&mut s.b, &mut s.a, &mut s.d);
    NORMALIZED_CL.with(|m| {
        m.borrow_mut()
            .get_or_insert(generation as usize, raw.as_bytes(), || {
                let caret = normalize_command_uncached(raw, generation, lower, norm, tmp);
                CommandLine {
                    normalized: norm.as_str().into(),
                    caret,
                    families: match generation {
                        Generation::Y2026 => families_2026(norm),
                        Generation::Y2021 => [false; 8],
                    },
                }
            })
    })
}

fn normalize_command_uncached(
    raw: &str,
    generation: Generation,
    lower: &mut String,
    norm: &mut String,
    tmp: &mut String,
) -> bool {
    text::lower_into(raw, lower);
    let mut caret = false;
    if generation == Generation::Y2026 {
        let n = memchr::memchr_iter(b'^', lower.as_bytes()).count();
        caret = n >= 2;
        if n > 0 {
            lower.retain(|c| c != '^');
        }
    }
    text::elastic_normalize_path(lower, norm, tmp);
    text::elastic_normalize_command(norm, tmp);
    caret
}

thread_local! {
    /// What the recipes derive from the process and parent executables (see `crate::memo`).
    static IMAGE_PATHS: std::cell::RefCell<crate::memo::Memo<ImagePaths>> =
        std::cell::RefCell::new(crate::memo::Memo::default());
}

/// The executable's path class and both executables' normalised paths.
struct ImagePaths {
    class: PathClass,
    process: Box<str>,
    parent: Box<str>,
}

/// [`ImagePaths`] of an event, memoised per thread by the two raw executables (a fleet
/// runs few distinct pairs; normalising and classifying a path costs more than the rest
/// of an event's scalars).
fn image_paths(e: &ProcessEvent, s: &mut crate::row::Scratch) -> std::rc::Rc<ImagePaths> {
    let (exe, parent) = (
        or_unknown(e.process_executable.as_deref()),
        or_unknown(e.parent_executable.as_deref()),
    );
    let paths = IMAGE_PATHS.with(|m| {
        let parts = [Some(exe.as_bytes()), Some(parent.as_bytes())];
        m.borrow_mut().get_or_insert_parts(0, &parts, || {
            text::lower_into(exe, &mut s.b);
            let class = path_class(&s.b);
            text::elastic_normalize_path(&s.b, &mut s.c, &mut s.d);
            let process = s.c.as_str().into();
            text::lower_into(parent, &mut s.b);
            text::elastic_normalize_path(&s.b, &mut s.c, &mut s.d);
            ImagePaths {
                class,
                process,
                parent: s.c.as_str().into(),
            }
        })
    });
    paths
}

/// Either Elastic recipe.
#[derive(Debug, Clone)]
pub struct ElasticRecipe {
    generation: Generation,
    features: Vec<FeatureSpec>,
}

impl ElasticRecipe {
    pub fn new(generation: Generation) -> Self {
        let mut features = Vec::with_capacity(485);
        for (name, cat, doc) in SCALARS {
            features.push(if cat {
                FeatureSpec::categorical(name, doc)
            } else {
                FeatureSpec::numeric(name, doc)
            });
        }
        for (field, n) in BIGRAM_FIELDS {
            for i in 0..n {
                features.push(FeatureSpec::categorical(
                    format!("{field}_2-gram_feature{i}"),
                    "The two characters at this position of the (normalised) string cut to 100 characters; the last position holds \"\", positions past it are missing.",
                ));
            }
        }
        if generation == Generation::Y2026 {
            features.push(FeatureSpec::numeric(
                "cmd_obfuscation",
                "1 when the command line holds two or more '^' (then stripped).",
            ));
            for f in FAMILIES_2026 {
                features.push(FeatureSpec::numeric(
                    f,
                    "Keyword family flag on the normalised command line (spec section 3).",
                ));
            }
        }
        ElasticRecipe {
            generation,
            features,
        }
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }
}

/// Push the positional bigrams of `s` (cut to 100 characters) into `n` positions.
fn push_bigrams(out: &mut FeatureRow, s: &str, n: usize) {
    out.push_bigrams(text::take_chars(s, 100), n);
}

impl FeatureRecipe for ElasticRecipe {
    fn name(&self) -> &'static str {
        match self.generation {
            Generation::Y2021 => "elastic2021",
            Generation::Y2026 => "elastic2026",
        }
    }

    fn version(&self) -> u32 {
        1
    }

    fn features(&self) -> &[FeatureSpec] {
        &self.features
    }

    fn categorical_groups(&self) -> Vec<std::ops::Range<usize>> {
        let mut start = SCALARS.iter().filter(|(_, cat, _)| *cat).count();
        BIGRAM_FIELDS
            .iter()
            .map(|&(_, n)| {
                start += n;
                start - n..start
            })
            .collect()
    }

    fn event_columns(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "event.action",
            "process.name",
            "process.executable",
            "process.command_line",
            "process.args",
            "process.pe.original_file_name",
            "process.code_signature.exists",
            "process.code_signature.trusted",
            "process.Ext.token.integrity_level_name",
            "process.Ext.token.elevation_type",
            "process.Ext.token.elevation",
            "process.parent.name",
            "process.parent.executable",
            "user.id",
        ])
    }

    fn fallback_columns(&self) -> &'static [(&'static str, &'static str)] {
        COMMAND_LINE_FALLBACK
    }

    fn featurize(&self, e: &ProcessEvent, out: &mut FeatureRow) {
        out.clear();
        let y26 = self.generation == Generation::Y2026;
        let cl = normalize_command_into(e, self.generation, &mut out.scratch);

        // Categorical scalars.
        out.push_cat(Some(or_unknown(e.event_action.as_deref())));
        let lc = |v: Option<&str>, buf: &mut String| {
            if y26 {
                text::lower_into(or_unknown(v), buf);
            } else {
                buf.clear();
                buf.push_str(or_unknown(v));
            }
        };
        let mut buf = std::mem::take(&mut out.scratch.e);
        lc(e.elevation_type.as_deref(), &mut buf);
        out.push_cat(Some(&buf));
        lc(e.integrity_level.as_deref(), &mut buf);
        out.push_cat(Some(&buf));

        let images = image_paths(e, &mut out.scratch);
        out.push_cat(Some(images.class.as_str()));

        // Numeric scalars.
        let elevated = e
            .elevated
            .unwrap_or(e.elevation_type.as_deref().is_some_and(|s| !s.is_empty()));
        out.push_bool(elevated);
        out.push_bool(e.process_code_signature_exists.unwrap_or(false));
        out.push_bool(e.process_code_signature_trusted.unwrap_or(false));
        let pname = or_unknown(e.process_name.as_deref());
        out.push_bool(pname != or_unknown(e.process_pe_original_file_name.as_deref()));
        out.push_bool(matches!(
            e.user_id.as_deref(),
            Some("S-1-5-18" | "S-1-5-19" | "S-1-5-20")
        ));
        out.push_bool(pname.contains(".exe"));

        // Bigrams.
        push_bigrams(out, pname, BIGRAM_FIELDS[0].1);
        push_bigrams(
            out,
            or_unknown(e.parent_name.as_deref()),
            BIGRAM_FIELDS[1].1,
        );
        push_bigrams(out, &images.process, BIGRAM_FIELDS[2].1);
        push_bigrams(out, &images.parent, BIGRAM_FIELDS[3].1);
        push_bigrams(out, &cl.normalized, BIGRAM_FIELDS[4].1);

        if y26 {
            out.push_bool(cl.caret);
            for f in cl.families {
                out.push_bool(f);
            }
        }
        out.scratch.e = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;

    /// Haystacks stitched from needle pieces and noise, so that matches overlap and nest.
    fn haystack() -> impl Strategy<Value = String> {
        let pieces: Vec<&'static str> = NEEDLES_2026
            .iter()
            .chain(BLOCKLIST_2021.iter())
            .copied()
            .chain(["-", " ", "\\", "net", "iex", "x", "é"])
            .collect();
        prop::collection::vec((prop::sample::select(pieces), 0usize..4), 0..24).prop_map(|parts| {
            parts
                .into_iter()
                // Cut some pieces short, so that partial needles are tried too.
                .map(|(p, cut)| p.get(..p.len().saturating_sub(cut)).unwrap_or(p))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn dfa_walk_reports_what_the_overlapping_iterator_does(s in haystack()) {
            let needles: Vec<&str> = NEEDLES_2026.iter().chain(BLOCKLIST_2021.iter()).copied().collect();
            let reference = AhoCorasick::new(&needles).unwrap();
            // The iterator reports matches by end position; the walk reports them in the
            // same order (every match ending at a byte, as the byte is read).
            let expected: Vec<usize> = reference
                .find_overlapping_iter(&s)
                .map(|m| m.pattern().as_usize())
                .collect();
            let mut got = Vec::new();
            for_each_match(keyword_automaton(), s.as_bytes(), |p| got.push(p));
            let (mut got_sorted, mut expected_sorted) = (got.clone(), expected.clone());
            got_sorted.sort_unstable();
            expected_sorted.sort_unstable();
            prop_assert_eq!(got_sorted, expected_sorted);
            let (families, blocklist) = families_and_blocklist(&s);
            prop_assert_eq!(blocklist, expected.iter().any(|&p| p >= NEEDLES_2026.len()));
            prop_assert_eq!(blocklist, reference.is_match(&s) && expected.iter().any(|&p| p >= NEEDLES_2026.len()));
            prop_assert_eq!(families, families_2026(&s));
        }
    }
}
