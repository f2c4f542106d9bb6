//! The `lotl` recipe: features meant to generalise where positional bigrams do not.
//!
//! Each feature's meaning is its doc string in [`SCALARS`] (and the n-gram blocks below);
//! the crate-level docs list them by group. Design points:
//! - Character 1–4-grams of the normalised command line and of the two normalised paths are
//!   hashed into fixed numeric buckets (term frequency: count / number of n-grams) instead
//!   of thousands of categorical columns. The hash is a fixed multiply–xorshift mix of the
//!   packed n-gram bytes with a constant seed: stable across runs, machines and versions.
//!   Only the first [`NGRAM_MAX_BYTES`] bytes are hashed, so time per event is bounded.
//! - Every scan is a single forward pass; keyword tests use one Aho–Corasick automaton.
//! - Missing inputs give `NaN` where "unknown" differs from "no" (signature, integrity).

use crate::elastic::{self, command_line_source, or_unknown};
use crate::error::Error;
use crate::lolbas::system_binaries;
use crate::recipe::FeatureRecipe;
use crate::row::{FeatureRow, FeatureSpec};
use crate::text::{self, path_class};
use aho_corasick::dfa::DFA;
use lotl_events::ProcessEvent;
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use std::sync::OnceLock;

/// Bytes of a string fed to the n-gram hash and the entropy estimate.
pub const NGRAM_MAX_BYTES: usize = 4096;

/// Recipe parameters (validated by [`LotlRecipe::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotlParams {
    /// Hash buckets for command-line n-grams.
    pub cl_buckets: usize,
    /// Hash buckets for the n-grams of the process and parent executable paths.
    pub path_buckets: usize,
}

impl Default for LotlParams {
    fn default() -> Self {
        LotlParams {
            cl_buckets: 256,
            path_buckets: 64,
        }
    }
}

/// Categorical features of the lotl recipe, in order.
pub const CATEGORICALS: [(&str, &str); 3] = [
    (
        "process_name",
        "Lower-cased process name, else \"unknown\".",
    ),
    (
        "parent_name",
        "Lower-cased parent process name, else \"unknown\".",
    ),
    (
        "parent_child",
        "\"<parent>|<child>\" lower-cased names: how usual this pair is.",
    ),
];

/// Scalar numeric features of the lotl recipe, in order.
pub const SCALARS: &[(&str, &str)] = &[
    // Command line shape.
    ("cl_len", "Command line length in bytes (command line, else arguments joined; 0 when absent)."),
    ("cl_tokens", "Whitespace-separated tokens of the command line."),
    ("cl_max_token_len", "Longest token in bytes."),
    ("cl_flags", "Tokens starting with '-' or '/' (switches)."),
    ("cl_entropy", "Shannon entropy (bits/byte) of the first 4096 bytes of the raw command line."),
    ("cl_punct_share", "Share of ASCII punctuation bytes."),
    ("cl_upper_share", "Share of upper-case letters among ASCII letters."),
    ("cl_digit_share", "Share of digit bytes."),
    ("cl_nonascii_share", "Share of non-ASCII bytes."),
    ("cl_quotes", "Number of '\"' and '\\'' characters."),
    // Tokens.
    ("cl_urls", "URL schemes (http://, https://, ftp://)."),
    ("cl_ipv4", "IPv4 literals (four dotted numbers of 1-3 digits, each <= 255)."),
    ("cl_unc", "UNC path markers (\\\\ followed by a name)."),
    ("cl_b64_max_run", "Longest run of base64 alphabet characters [A-Za-z0-9+/=]."),
    ("cl_encoded_markers", "Encoded-payload markers: -enc, -e, frombase64string, [convert]::, -decode, base64."),
    ("cl_script_ext", "Script or proxy-loaded file extensions (.ps1 .vbs .js .hta .sct .bat .dll ...)."),
    ("cl_ps_stealth", "PowerShell stealth switches: hidden window, -nop, -noni, bypass policy."),
    // Obfuscation.
    ("cl_carets", "'^' characters (cmd escape obfuscation)."),
    ("cl_backticks", "'`' characters (PowerShell escape obfuscation)."),
    ("cl_case_flips", "Lower-to-upper transitions inside words (rAnDoM case)."),
    ("cl_space_runs", "Runs of three or more spaces."),
    ("cl_obf_markers", "[char], -join, -bxor, .replace(, :~ (cmd substring), string reversal."),
    // Keyword families (Elastic 2026's eight, on the normalised command line) and 2021 blocklist.
    ("kw_credential_access", "Elastic 2026 credential_access family."),
    ("kw_download_cradle", "Elastic 2026 download_cradle family."),
    ("kw_lateral_movement", "Elastic 2026 lateral_movement family."),
    ("kw_kerberoasting", "Elastic 2026 kerberoasting family."),
    ("kw_recon", "Elastic 2026 recon family."),
    ("kw_defense_evasion", "Elastic 2026 defense_evasion family."),
    ("kw_persistence", "Elastic 2026 persistence family."),
    ("kw_exfiltration", "Elastic 2026 exfiltration family."),
    ("kw_blocklist", "1 when Elastic 2021's blocklist matches."),
    // Process image.
    ("proc_path_class", "Directory class of the executable (ordinal of Elastic's normalized_ppath classes)."),
    ("proc_user_writable_dir", "Executable lives in a directory users can write to (temp, profile, ProgramData, root)."),
    ("proc_path_depth", "Directory depth of the executable; NaN when no path."),
    ("proc_name_len", "Process name length in bytes."),
    ("proc_not_exe", "Process name does not end in .exe."),
    ("proc_double_ext", "Name ends in .exe after a document extension (.pdf.exe, .doc.exe ...)."),
    ("proc_is_system_binary", "Name is a LOLBAS / core Windows binary."),
    ("masq_outside_legit_dir", "System binary name running outside its legitimate directories (LOLBAS full paths); NaN when unknown."),
    ("masq_lookalike", "Highest Jaro-Winkler similarity of a non-system name to a system binary name (0 for system names)."),
    ("pe_name_mismatch", "Lower-cased PE original file name differs from the process name; NaN when absent."),
    ("pe_renamed_system_binary", "The PE original name is a system binary but the process name differs (renamed LOLBin)."),
    ("signed", "Code signature exists; NaN when not reported."),
    ("signer_trusted", "Code signature trusted; NaN when not reported."),
    // Parent context.
    ("parent_path_class", "Directory class of the parent executable (ordinal)."),
    ("parent_is_office", "Parent is an Office application."),
    ("parent_is_script_host", "Parent is a shell or script host (cmd, powershell, wscript, mshta, rundll32 ...)."),
    ("parent_is_browser", "Parent is a web browser."),
    ("parent_is_service_host", "Parent is services.exe, svchost.exe, wmiprvse.exe or a task host."),
    ("parent_is_system_binary", "Parent name is a LOLBAS / core Windows binary."),
    ("child_is_shell", "Process is a shell or script host."),
    ("parent_cl_len", "Parent command line length in bytes; NaN when absent."),
    // User and token.
    ("user_system", "Runs as LocalSystem (S-1-5-18)."),
    ("user_service", "Runs as a service account (S-1-5-19/20, NT SERVICE, machine account)."),
    ("user_human", "Runs as a domain or local user (S-1-5-21-..., RID >= 500)."),
    ("user_unknown", "User not reported or not classified."),
    ("integrity", "Integrity level ordinal: untrusted 0, low 1, medium 2, high 3, system 4, protected 5; NaN when absent."),
    ("elevation", "Elevation type ordinal: default 0, limited 1, full 2; NaN when absent."),
    ("elevated", "Token elevated as reported, else derived from elevation type full; NaN when neither."),
];

const CL_DOC: &str =
    "Term frequency of the hash bucket over character 1-4-grams of the normalised command line.";
const PATH_DOC: &str = "Term frequency of the hash bucket over character 1-4-grams of the normalised process and parent executable paths.";

/// The lotl recipe.
#[derive(Debug, Clone)]
pub struct LotlRecipe {
    params: LotlParams,
    features: Vec<FeatureSpec>,
}

impl LotlRecipe {
    pub fn new(params: LotlParams) -> Result<Self, Error> {
        for (what, n) in [
            ("cl_buckets", params.cl_buckets),
            ("path_buckets", params.path_buckets),
        ] {
            if !(1..=65_536).contains(&n) {
                return Err(Error::InvalidParam(format!(
                    "{what} must be in 1..=65536, got {n}"
                )));
            }
        }
        let mut features = Vec::new();
        for (n, d) in CATEGORICALS {
            features.push(FeatureSpec::categorical(n, d));
        }
        for (n, d) in SCALARS {
            features.push(FeatureSpec::numeric(*n, d));
        }
        for i in 0..params.cl_buckets {
            features.push(FeatureSpec::numeric(format!("cl_ngram_{i}"), CL_DOC));
        }
        for i in 0..params.path_buckets {
            features.push(FeatureSpec::numeric(format!("path_ngram_{i}"), PATH_DOC));
        }
        Ok(LotlRecipe { params, features })
    }

    pub fn params(&self) -> &LotlParams {
        &self.params
    }
}

// Keyword groups of the lotl automaton.
const G_URL: usize = 0;
const G_ENC: usize = 1;
const G_SCRIPT: usize = 2;
const G_STEALTH: usize = 3;
const G_OBF: usize = 4;
const N_GROUPS: usize = 5;

const LOTL_NEEDLES: &[(&str, usize)] = &[
    ("http://", G_URL),
    ("https://", G_URL),
    ("ftp://", G_URL),
    ("-enc", G_ENC),
    (" -e ", G_ENC),
    ("frombase64string", G_ENC),
    ("[convert]::", G_ENC),
    ("-decode", G_ENC),
    ("base64", G_ENC),
    (".ps1", G_SCRIPT),
    (".psm1", G_SCRIPT),
    (".vbs", G_SCRIPT),
    (".vbe", G_SCRIPT),
    (".js", G_SCRIPT),
    (".wsf", G_SCRIPT),
    (".hta", G_SCRIPT),
    (".sct", G_SCRIPT),
    (".bat", G_SCRIPT),
    (".cmd", G_SCRIPT),
    (".scr", G_SCRIPT),
    (".cpl", G_SCRIPT),
    (".inf", G_SCRIPT),
    (".xsl", G_SCRIPT),
    (".dll", G_SCRIPT),
    ("-w hidden", G_STEALTH),
    ("-windowstyle hidden", G_STEALTH),
    ("-nop", G_STEALTH),
    ("-noni", G_STEALTH),
    ("bypass", G_STEALTH),
    ("[char]", G_OBF),
    ("-join", G_OBF),
    ("-bxor", G_OBF),
    (".replace(", G_OBF),
    (":~", G_OBF),
    ("reverse", G_OBF),
];

fn lotl_automaton() -> &'static DFA {
    static AC: OnceLock<DFA> = OnceLock::new();
    AC.get_or_init(|| {
        elastic::dfa(LOTL_NEEDLES.iter().map(|(n, _)| n))
            .unwrap_or_else(|e| unreachable!("constant needles: {e}"))
    })
}

/// One forward pass over the raw command line.
#[derive(Default)]
struct Shape {
    tokens: u32,
    max_token: u32,
    flags: u32,
    punct: u32,
    upper: u32,
    letters: u32,
    digits: u32,
    nonascii: u32,
    quotes: u32,
    carets: u32,
    backticks: u32,
    case_flips: u32,
    space_runs: u32,
    b64_max: u32,
    unc: u32,
    ipv4: u32,
}

// Byte classes of the command-line scan, one table look-up per byte.
const WS: u8 = 1;
const B64: u8 = 2;
const UPPER: u8 = 4;
const LOWER: u8 = 8;
const DIGIT: u8 = 16;
const PUNCT: u8 = 32;
const NON_ASCII: u8 = 64;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_whitespace() {
            c |= WS;
        }
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' {
            c |= B64;
        }
        if b.is_ascii_uppercase() {
            c |= UPPER;
        }
        if b.is_ascii_lowercase() {
            c |= LOWER;
        }
        if b.is_ascii_digit() {
            c |= DIGIT;
        }
        if b.is_ascii_punctuation() {
            c |= PUNCT;
        }
        if !b.is_ascii() {
            c |= NON_ASCII;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn shape(s: &[u8]) -> Shape {
    let mut sh = Shape::default();
    let mut tok_len = 0u32;
    let mut spaces = 0u32;
    let mut b64 = 0u32;
    let mut prev_class = WS;
    let mut prev = b' ';
    for (i, &b) in s.iter().enumerate() {
        let class = CLASS[usize::from(b)];
        if class & WS != 0 {
            tok_len = 0;
            spaces += 1;
            if spaces == 3 {
                sh.space_runs += 1;
            }
        } else {
            if tok_len == 0 {
                sh.tokens += 1;
                if b == b'-' || b == b'/' {
                    sh.flags += 1;
                }
            }
            tok_len += 1;
            sh.max_token = sh.max_token.max(tok_len);
            spaces = 0;
        }
        if class & B64 != 0 {
            b64 += 1;
            sh.b64_max = sh.b64_max.max(b64);
        } else {
            b64 = 0;
        }
        if class & UPPER != 0 {
            sh.upper += 1;
            sh.letters += 1;
            if prev_class & LOWER != 0 {
                sh.case_flips += 1;
            }
        } else if class & LOWER != 0 {
            sh.letters += 1;
        } else if class & DIGIT != 0 {
            sh.digits += 1;
            // An IPv4 literal starts at a digit not preceded by a digit or dot.
            if prev_class & DIGIT == 0 && prev != b'.' && is_ipv4_at(&s[i..]) {
                sh.ipv4 += 1;
            }
        } else if class & PUNCT != 0 {
            sh.punct += 1;
            match b {
                b'"' | b'\'' => sh.quotes += 1,
                b'^' => sh.carets += 1,
                b'`' => sh.backticks += 1,
                b'\\'
                    if prev == b'\\' && s.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()) =>
                {
                    sh.unc += 1
                }
                _ => {}
            }
        } else if class & NON_ASCII != 0 {
            sh.nonascii += 1;
        }
        prev = b;
        prev_class = class;
    }
    sh
}

/// Four dot-separated numbers of 1–3 digits, each at most 255, not followed by a digit/dot.
fn is_ipv4_at(s: &[u8]) -> bool {
    let mut i = 0;
    for part in 0..4 {
        let start = i;
        let mut v = 0u32;
        while i < s.len() && s[i].is_ascii_digit() && i - start < 4 {
            v = v * 10 + u32::from(s[i] - b'0');
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 3 || v > 255 {
            return false;
        }
        if part < 3 {
            if s.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
    }
    !s.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'.')
}

const SEED_CL: u64 = 0x6c6f_746c_2d63_6c31; // "lotl-cl1"
const SEED_PATH: u64 = 0x6c6f_746c_2d70_7431; // "lotl-pt1"

/// Bucket of a tagged n-gram key: one multiplicative (Fibonacci) hash, whose high word
/// depends on every key bit, reduced to `0..n` by multiply-shift. Cheap enough to run four
/// times per byte of text, and fixed: a bucket never changes across runs or machines.
#[inline(always)]
fn bucket(key: u64, seed: u64, n: u64) -> usize {
    let h = (key ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (((h >> 32) * n) >> 32) as usize
}

/// Keys of the 1-, 2-, 3- and 4-gram starting at a position whose next four bytes (zero
/// padded past the end) are `w`, tagged with the n-gram length so that "a" and "a\0" differ.
#[inline(always)]
fn ngram_keys(w: u32) -> [u64; 4] {
    let w = u64::from(w);
    [
        (w & 0xFF) | (1 << 32),
        (w & 0xFFFF) | (2 << 32),
        (w & 0xFF_FFFF) | (3 << 32),
        w | (4 << 32),
    ]
}

/// Add the 1–4-gram counts of `s` to `counts`; returns the number of n-grams.
fn hash_ngrams(s: &[u8], seed: u64, counts: &mut [u32]) -> u32 {
    let s = &s[..s.len().min(NGRAM_MAX_BYTES)];
    let n = counts.len() as u64;
    // The bulk of positions (all four n-grams present) reads one unaligned word each.
    let full = s.len().saturating_sub(3);
    for w in s.windows(4) {
        let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        for key in ngram_keys(word) {
            counts[bucket(key, seed, n)] += 1;
        }
    }
    // The last (up to) three positions: only the n-grams that fit.
    for i in full..s.len() {
        let mut pad = [0u8; 4];
        let tail = &s[i..];
        pad[..tail.len()].copy_from_slice(tail);
        let keys = ngram_keys(u32::from_le_bytes(pad));
        for key in &keys[..tail.len()] {
            counts[bucket(*key, seed, n)] += 1;
        }
    }
    // At most 4 × NGRAM_MAX_BYTES n-grams: fits in u32.
    (4 * full + (s.len() - full) * (s.len() - full + 1) / 2) as u32
}

fn share(a: u32, n: usize) -> f32 {
    if n == 0 {
        0.0
    } else {
        a as f32 / n as f32
    }
}

fn is_office(n: &str) -> bool {
    matches!(
        n,
        "winword.exe"
            | "excel.exe"
            | "powerpnt.exe"
            | "outlook.exe"
            | "msaccess.exe"
            | "mspub.exe"
            | "onenote.exe"
            | "visio.exe"
    )
}

fn is_script_host(n: &str) -> bool {
    matches!(
        n,
        "cmd.exe"
            | "powershell.exe"
            | "pwsh.exe"
            | "wscript.exe"
            | "cscript.exe"
            | "mshta.exe"
            | "rundll32.exe"
            | "regsvr32.exe"
            | "powershell_ise.exe"
    )
}

fn is_shell(n: &str) -> bool {
    matches!(
        n,
        "cmd.exe" | "powershell.exe" | "pwsh.exe" | "wscript.exe" | "cscript.exe" | "mshta.exe"
    )
}

fn is_browser(n: &str) -> bool {
    matches!(
        n,
        "chrome.exe" | "msedge.exe" | "firefox.exe" | "iexplore.exe" | "opera.exe" | "brave.exe"
    )
}

fn is_service_host(n: &str) -> bool {
    matches!(
        n,
        "services.exe" | "svchost.exe" | "wmiprvse.exe" | "taskeng.exe" | "taskhostw.exe"
    )
}

/// 0 system, 1 service, 2 human, 3 unknown.
fn user_class(e: &ProcessEvent) -> u8 {
    let sid = e.user_id.as_deref().unwrap_or("");
    match sid {
        "S-1-5-18" => return 0,
        "S-1-5-19" | "S-1-5-20" => return 1,
        _ => {}
    }
    if sid.starts_with("S-1-5-80-") || sid.starts_with("S-1-5-82-") {
        return 1;
    }
    if let Some(rest) = sid.strip_prefix("S-1-5-21-") {
        let rid = rest.rsplit('-').next().and_then(|r| r.parse::<u64>().ok());
        if rid.is_some_and(|r| r >= 500) {
            return 2;
        }
    }
    let name = e.user_name.as_deref().unwrap_or("");
    if name.ends_with('$')
        || e.user_domain
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("NT SERVICE"))
    {
        return 1;
    }
    3
}

fn integrity_ordinal(s: Option<&str>) -> f32 {
    match s {
        Some("untrusted") => 0.0,
        Some("low") => 1.0,
        Some("medium") => 2.0,
        Some("high") => 3.0,
        Some("system") => 4.0,
        Some("protected") => 5.0,
        _ => f32::NAN,
    }
}

fn elevation_ordinal(s: Option<&str>) -> f32 {
    match s {
        Some("default") => 0.0,
        Some("limited") => 1.0,
        Some("full") => 2.0,
        _ => f32::NAN,
    }
}

fn has_double_ext(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".exe") else {
        return false;
    };
    [
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".txt", ".jpg", ".png", ".zip", ".rtf", ".ppt",
    ]
    .iter()
    .any(|x| stem.ends_with(x))
}

fn bool_f(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Number of scalar features computed from the command line alone (the first scalars).
const CL_SCALARS: usize = 31;

/// Everything the recipe derives from the command line alone: a pure function of the text
/// (and the bucket count), so it can be memoised.
#[derive(Debug, Clone, PartialEq)]
struct ClFeatures {
    scalars: [f32; CL_SCALARS],
    /// What the normalised command line gives, shared by every raw line normalising to it.
    normalised: Rc<NormalisedFeatures>,
}

/// What the recipe derives from the normalised command line alone. Raw lines that differ
/// only where Elastic's normalisation substitutes (numbers, GUIDs, hex, user names) share
/// it: a synthetic fleet's 5,201 distinct command lines normalise to 1,196.
#[derive(Debug, Clone, PartialEq)]
struct NormalisedFeatures {
    /// The eight 2026 keyword families, then the 2021 blocklist, as 0/1.
    keywords: [f32; 9],
    /// N-gram term frequency of every bucket.
    ngrams: TermFrequencies,
}

/// Hashed n-gram term frequency of every bucket: kept whole, so that a memo hit is one
/// copy into the row (a few hundred bytes) rather than a scatter of its non-zero buckets.
type TermFrequencies = Box<[f32]>;

thread_local! {
    static CL_MEMO: std::cell::RefCell<crate::memo::Memo<ClFeatures>> =
        std::cell::RefCell::new(crate::memo::Memo::default());
    static NORMALISED_MEMO: std::cell::RefCell<crate::memo::Memo<NormalisedFeatures>> =
        std::cell::RefCell::new(crate::memo::Memo::default());
    static IMAGE_MEMO: std::cell::RefCell<crate::memo::Memo<ImageFeatures>> =
        std::cell::RefCell::new(crate::memo::Memo::default());
    static LOOKALIKE_MEMO: std::cell::RefCell<crate::memo::Memo<f32>> =
        std::cell::RefCell::new(crate::memo::Memo::default());
}

/// Scalars derived from the process image (`proc_path_class` .. `pe_renamed_system_binary`).
const PROCESS_SCALARS: usize = 11;
/// Scalars derived from the parent image and the two names (`parent_path_class` ..
/// `child_is_shell`).
const PARENT_SCALARS: usize = 7;

/// Everything the recipe derives from the process and parent images alone (names,
/// executables, PE original name): a pure function of those five strings, memoised.
#[derive(Debug, Clone, PartialEq)]
struct ImageFeatures {
    /// Lower-cased process name, else "unknown".
    name: Box<str>,
    /// Lower-cased parent name, else "unknown".
    parent_name: Box<str>,
    /// "<parent>|<child>".
    pair: Box<str>,
    process: [f32; PROCESS_SCALARS],
    parent: [f32; PARENT_SCALARS],
    /// Path n-gram term frequency of every bucket.
    path_ngrams: TermFrequencies,
}

fn image_features(
    e: &ProcessEvent,
    path_buckets: usize,
    s: &mut crate::row::Scratch,
) -> ImageFeatures {
    text::lower_into(or_unknown(e.process_name.as_deref()), &mut s.e);
    text::lower_into(or_unknown(e.parent_name.as_deref()), &mut s.f);
    let (name, pname) = (s.e.as_str(), s.f.as_str());
    let sys = system_binaries();

    text::lower_into(e.process_executable.as_deref().unwrap_or(""), &mut s.b);
    let exe = s.b.as_str();
    let pclass = path_class(exe);
    let name_is_sys = sys.contains(name);
    let (pe_mismatch, pe_renamed) = match e
        .process_pe_original_file_name
        .as_deref()
        .filter(|x| !x.is_empty() && *x != "-" && *x != "?")
    {
        Some(pe) => {
            text::lower_into(pe, &mut s.d);
            let pe_l = s.d.strip_suffix(".mui").unwrap_or(&s.d);
            (
                bool_f(pe_l != name),
                bool_f(pe_l != name && sys.contains(pe_l)),
            )
        }
        None => (f32::NAN, 0.0),
    };
    let process = [
        pclass.code(),
        bool_f(pclass.user_writable()),
        if exe.contains(['\\', '/']) {
            exe.bytes().filter(|&c| c == b'\\' || c == b'/').count() as f32 - 1.0
        } else {
            f32::NAN
        },
        name.len() as f32,
        bool_f(!name.ends_with(".exe")),
        bool_f(has_double_ext(name)),
        bool_f(name_is_sys),
        match sys.outside_legit_dirs(name, exe) {
            Some(b) => bool_f(b),
            None if name_is_sys => f32::NAN,
            None => 0.0,
        },
        // Names repeat across images (one name, many paths); the similarity scan is the
        // costliest step of an image.
        *LOOKALIKE_MEMO.with(|memo| {
            memo.borrow_mut()
                .get_or_insert(0, name.as_bytes(), || sys.lookalike(name))
        }),
        pe_mismatch,
        pe_renamed,
    ];

    text::lower_into(e.parent_executable.as_deref().unwrap_or(""), &mut s.d);
    let parent = [
        path_class(&s.d).code(),
        bool_f(is_office(pname)),
        bool_f(is_script_host(pname)),
        bool_f(is_browser(pname)),
        bool_f(is_service_host(pname)),
        bool_f(sys.contains(pname)),
        bool_f(is_shell(name)),
    ];
    let pair = format!("{pname}|{name}").into_boxed_str();
    let (name, parent_name) = (name.into(), pname.into());
    ImageFeatures {
        name,
        parent_name,
        pair,
        process,
        parent,
        path_ngrams: path_ngrams(path_buckets, s),
    }
}

/// Term frequencies of the path n-grams of the lower-cased process (`s.b`) and parent
/// (`s.d`) executables, normalised as Elastic normalises paths.
fn path_ngrams(path_buckets: usize, s: &mut crate::row::Scratch) -> TermFrequencies {
    let mut counts = std::mem::take(&mut s.counts);
    counts.resize(path_buckets, 0);
    let path_counts = &mut counts[..path_buckets];
    let mut norm = std::mem::take(&mut s.a);
    text::elastic_normalize_path(&s.b, &mut norm, &mut s.c);
    let mut total = hash_ngrams(norm.as_bytes(), SEED_PATH, path_counts);
    text::elastic_normalize_path(&s.d, &mut norm, &mut s.c);
    total += hash_ngrams(norm.as_bytes(), SEED_PATH, path_counts);
    let out = term_frequencies(path_counts, total);
    s.counts = counts;
    s.a = norm;
    out
}

/// Term frequencies `count / total` of every bucket, resetting `counts`.
fn term_frequencies(counts: &mut [u32], total: u32) -> TermFrequencies {
    let inv = if total > 0 { 1.0 / total as f32 } else { 0.0 };
    counts
        .iter_mut()
        .map(|c| std::mem::take(c) as f32 * inv)
        .collect()
}

fn cl_features(raw: &str, cl_buckets: usize, s: &mut crate::row::Scratch) -> ClFeatures {
    let raw_b = raw.as_bytes();
    let sh = shape(raw_b);
    let n = raw_b.len();
    text::lower_into(raw, &mut s.b);
    text::elastic_normalize_path(&s.b, &mut s.a, &mut s.d);
    text::elastic_normalize_command(&mut s.a, &mut s.d);
    let norm_cl = &s.a;

    let mut groups = [0u32; N_GROUPS];
    elastic::for_each_match(lotl_automaton(), s.b.as_bytes(), |p| {
        groups[LOTL_NEEDLES[p].1] += 1;
    });
    let normalised = NORMALISED_MEMO.with(|memo| {
        memo.borrow_mut()
            .get_or_insert(cl_buckets, norm_cl.as_bytes(), || {
                let (families, blocklist) = elastic::families_and_blocklist(norm_cl);
                let mut keywords = [0.0; 9];
                for (slot, f) in keywords.iter_mut().zip(families) {
                    *slot = bool_f(f);
                }
                keywords[8] = bool_f(blocklist);
                s.counts.resize(cl_buckets, 0);
                let counts = &mut s.counts[..cl_buckets];
                let total = hash_ngrams(norm_cl.as_bytes(), SEED_CL, counts);
                NormalisedFeatures {
                    keywords,
                    ngrams: term_frequencies(counts, total),
                }
            })
    });
    let mut scalars = [0.0f32; CL_SCALARS];
    let head = [
        n as f32,
        sh.tokens as f32,
        sh.max_token as f32,
        sh.flags as f32,
        text::entropy(&raw_b[..n.min(NGRAM_MAX_BYTES)]),
        share(sh.punct, n),
        share(sh.upper, sh.letters as usize),
        share(sh.digits, n),
        share(sh.nonascii, n),
        sh.quotes as f32,
        groups[G_URL] as f32,
        sh.ipv4 as f32,
        sh.unc as f32,
        sh.b64_max as f32,
        groups[G_ENC] as f32,
        groups[G_SCRIPT] as f32,
        groups[G_STEALTH] as f32,
        sh.carets as f32,
        sh.backticks as f32,
        sh.case_flips as f32,
        sh.space_runs as f32,
        groups[G_OBF] as f32,
    ];
    scalars[..head.len()].copy_from_slice(&head);
    scalars[head.len()..].copy_from_slice(&normalised.keywords);

    ClFeatures {
        scalars,
        normalised,
    }
}

impl FeatureRecipe for LotlRecipe {
    fn name(&self) -> &'static str {
        "lotl"
    }

    fn version(&self) -> u32 {
        // 2: one-multiply n-gram bucket hash (v1 mixed twice); buckets differ from v1.
        2
    }

    fn features(&self) -> &[FeatureSpec] {
        &self.features
    }

    fn event_columns(&self) -> Option<&'static [&'static str]> {
        Some(&[
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
            "process.parent.command_line",
            "user.name",
            "user.domain",
            "user.id",
        ])
    }

    fn fallback_columns(&self) -> &'static [(&'static str, &'static str)] {
        elastic::COMMAND_LINE_FALLBACK
    }

    fn featurize(&self, e: &ProcessEvent, out: &mut FeatureRow) {
        out.clear();
        let mut s = std::mem::take(&mut out.scratch);

        // Process and parent images: every feature that depends on them alone, memoised
        // per thread (a fleet runs few distinct images, and they cost more than the rest).
        let image_parts = [
            e.process_name.as_deref(),
            e.process_executable.as_deref(),
            e.process_pe_original_file_name.as_deref(),
            e.parent_name.as_deref(),
            e.parent_executable.as_deref(),
        ]
        .map(|v| v.map(str::as_bytes));
        let image = IMAGE_MEMO.with(|memo| {
            memo.borrow_mut()
                .get_or_insert_parts(self.params.path_buckets, &image_parts, || {
                    image_features(e, self.params.path_buckets, &mut s)
                })
        });
        out.push_cat(Some(&image.name));
        out.push_cat(Some(&image.parent_name));
        out.push_cat(Some(&image.pair));

        // Command line: every feature that depends on it alone, memoised per thread.
        let mut raw_buf = std::mem::take(&mut s.c);
        let raw = command_line_source(e, &mut raw_buf).unwrap_or("");
        let cl = CL_MEMO.with(|memo| {
            memo.borrow_mut()
                .get_or_insert(self.params.cl_buckets, raw.as_bytes(), || {
                    cl_features(raw, self.params.cl_buckets, &mut s)
                })
        });
        s.c = raw_buf;
        let num = &mut out.num;
        num.reserve(self.features.len());
        num.extend_from_slice(&cl.scalars);
        num.extend_from_slice(&image.process);
        num.push(e.process_code_signature_exists.map_or(f32::NAN, bool_f));
        num.push(e.process_code_signature_trusted.map_or(f32::NAN, bool_f));
        num.extend_from_slice(&image.parent);
        num.push(
            e.parent_command_line
                .as_deref()
                .map_or(f32::NAN, |c| c.len() as f32),
        );

        // User and token.
        let uc = user_class(e);
        for k in 0..4 {
            num.push(bool_f(uc == k));
        }
        num.push(integrity_ordinal(e.integrity_level.as_deref()));
        num.push(elevation_ordinal(e.elevation_type.as_deref()));
        num.push(match (e.elevated, e.elevation_type.as_deref()) {
            (Some(b), _) => bool_f(b),
            (None, Some(t)) => bool_f(t == "full"),
            (None, None) => f32::NAN,
        });

        // Hashed n-grams, both blocks from the memos.
        num.extend_from_slice(&cl.normalised.ngrams);
        num.extend_from_slice(&image.path_ngrams);
        out.scratch = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class table says of every byte what `u8`'s own predicates say, so the scan reads
    /// the same classes it read through them (`prev_class` included: it is `prev`'s class).
    #[test]
    fn class_table_equals_the_predicates() {
        for b in 0..=255u8 {
            let class = CLASS[usize::from(b)];
            let has = |bit: u8| class & bit != 0;
            assert_eq!(has(WS), b.is_ascii_whitespace(), "{b:#04x}");
            assert_eq!(
                has(B64),
                b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=',
                "{b:#04x}"
            );
            assert_eq!(has(UPPER), b.is_ascii_uppercase(), "{b:#04x}");
            assert_eq!(has(LOWER), b.is_ascii_lowercase(), "{b:#04x}");
            assert_eq!(has(DIGIT), b.is_ascii_digit(), "{b:#04x}");
            assert_eq!(has(PUNCT), b.is_ascii_punctuation(), "{b:#04x}");
            assert_eq!(has(NON_ASCII), !b.is_ascii(), "{b:#04x}");
        }
        // The scan starts as if after a space.
        assert_eq!(CLASS[usize::from(b' ')], WS);
    }
}
