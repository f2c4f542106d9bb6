//! Hand-written, linear-time string scanners shared by the recipes.
//!
//! Every function appends to a caller-owned buffer so that the per-event path reuses its
//! memory. Patterns are ASCII, so byte positions where they match are always `char`
//! boundaries and unmatched text is copied as `&str` slices: non-ASCII input passes
//! through untouched and the output stays valid UTF-8.

/// Lower-case `src` into `dst` (Unicode-aware; the ASCII case is a fast path).
pub fn lower_into(src: &str, dst: &mut String) {
    dst.clear();
    if src.is_ascii() {
        dst.push_str(src);
        dst.make_ascii_lowercase();
    } else {
        for c in src.chars() {
            if c.is_ascii() {
                dst.push(c.to_ascii_lowercase());
            } else {
                dst.extend(c.to_lowercase());
            }
        }
    }
}

/// `[0-9a-f]` by table: the normalisation passes test every byte of a command line.
const HEX: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_digit() || (b >= b'a' as usize && b <= b'f' as usize);
        b += 1;
    }
    t
};

#[inline]
pub fn is_hex(b: u8) -> bool {
    HEX[usize::from(b)]
}

/// Elastic's path/command normalisation, steps 1–4, on an already lower-cased string:
/// drop `"`, collapse backslash runs, `users\<name>` → `users`, the system directories →
/// `win_system_dir`. `tmp` is scratch.
pub fn elastic_normalize_path(src: &str, dst: &mut String, tmp: &mut String) {
    // Steps 1 and 2 in one pass: a backslash is dropped when the previous *kept* byte is a
    // backslash, which is what collapsing after removing quotes gives.
    tmp.clear();
    let bytes = src.as_bytes();
    let mut last = 0;
    let mut prev_bs = false;
    for (i, &b) in bytes.iter().enumerate() {
        let drop = b == b'"' || (b == b'\\' && prev_bs);
        if drop {
            tmp.push_str(&src[last..i]);
            last = i + 1;
        } else {
            prev_bs = b == b'\\';
        }
    }
    tmp.push_str(&src[last..]);

    // Step 3: `users\<name>` → `users`.
    dst.clear();
    replace_users(tmp, dst);

    // Step 4: system directories.
    std::mem::swap(dst, tmp);
    dst.clear();
    replace_system_dirs(tmp, dst);
}

/// Searchers built once: building one costs more than scanning a typical path.
fn users_finder() -> &'static memchr::memmem::Finder<'static> {
    static F: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    F.get_or_init(|| memchr::memmem::Finder::new(b"users\\"))
}

fn windows_finder() -> &'static memchr::memmem::Finder<'static> {
    static F: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    F.get_or_init(|| memchr::memmem::Finder::new(b"windows"))
}

fn replace_users(src: &str, dst: &mut String) {
    let b = src.as_bytes();
    let finder = users_finder();
    let mut last = 0;
    let mut pos = 0;
    while let Some(off) = finder.find(&b[pos..]) {
        let p = pos + off;
        let name_start = p + 6;
        let mut j = name_start;
        while j < b.len() && b[j] != b'\\' {
            j += 1;
        }
        if j > name_start {
            dst.push_str(&src[last..p]);
            dst.push_str("users");
            last = j;
            pos = j;
        } else {
            pos = name_start;
        }
    }
    dst.push_str(&src[last..]);
}

fn replace_system_dirs(src: &str, dst: &mut String) {
    let b = src.as_bytes();
    let finder = windows_finder();
    let mut last = 0;
    let mut pos = 0;
    while let Some(off) = finder.find(&b[pos..]) {
        let p = pos + off;
        let rest = &b[p + 7..];
        let hit = rest.len() >= 9
            && (rest[0] == b'\\' || rest[0] == b'/')
            && (&rest[1..9] == b"system32" || &rest[1..9] == b"syswow64");
        if hit {
            dst.push_str(&src[last..p]);
            dst.push_str("win_system_dir");
            last = p + 16;
            pos = last;
        } else {
            pos = p + 1;
        }
    }
    dst.push_str(&src[last..]);
}

/// Elastic's command-line-only substitutions, in order: GUID-like → `process_id`,
/// `0x…`/8 hex → `hex`, hash-length hex runs → `hash`, 5+ digits → `num`.
pub fn elastic_normalize_command(buf: &mut String, tmp: &mut String) {
    tmp.clear();
    replace_guids(buf, tmp);
    buf.clear();
    replace_hex(tmp, buf);
    // The `hash` step (hash-length hex runs) comes here in Elastic's order, but after the
    // `hex` step no hex run of 8 or more is left, so it never fires: it is skipped, and a
    // property test (`hash_step_never_fires_after_hex_step`) holds that up.
    tmp.clear();
    std::mem::swap(buf, tmp);
    replace_digit_runs(tmp, buf);
}

fn hex_run(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && is_hex(b[j]) {
        j += 1;
    }
    j - i
}

/// `[0-9a-f]{4,}-[0-9a-f]{4,}-[0-9a-f]{4,}-[0-9a-f-]{4,}`, leftmost, greedy.
fn replace_guids(src: &str, dst: &mut String) {
    let b = src.as_bytes();
    // Most command lines hold no '-' at all: then no GUID can match.
    if memchr::memchr(b'-', b).is_none() {
        dst.push_str(src);
        return;
    }
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if !is_hex(b[i]) {
            i += 1;
            continue;
        }
        // A match can only start at the start of a hex run (a later start leaves a shorter
        // first group and the same following byte).
        let mut j = i;
        let mut ok = true;
        for _ in 0..3 {
            let n = hex_run(b, j);
            if n < 4 || b.get(j + n) != Some(&b'-') {
                ok = false;
                break;
            }
            j += n + 1;
        }
        if ok {
            let mut k = j;
            while k < b.len() && (is_hex(b[k]) || b[k] == b'-') {
                k += 1;
            }
            if k - j >= 4 {
                dst.push_str(&src[last..i]);
                dst.push_str("process_id");
                last = k;
                i = k;
                continue;
            }
        }
        // Skip to the end of this hex run: no match starts inside it.
        i += hex_run(b, i).max(1);
    }
    dst.push_str(&src[last..]);
}

/// `0x[0-9a-f]+|[0-9a-f]{8}`, leftmost-first.
fn replace_hex(src: &str, dst: &mut String) {
    let b = src.as_bytes();
    let mut last = 0;
    let mut i = 0;
    // End of the hex run containing `i` (cached so the scan stays linear).
    let mut run_end = 0;
    while i < b.len() {
        if b[i] == b'0' && b.get(i + 1) == Some(&b'x') && b.get(i + 2).is_some_and(|&c| is_hex(c)) {
            let end = i + 2 + hex_run(b, i + 2);
            dst.push_str(&src[last..i]);
            dst.push_str("hex");
            last = end;
            i = end;
            continue;
        }
        if is_hex(b[i]) {
            if run_end <= i {
                run_end = i + hex_run(b, i);
            }
            if run_end - i >= 8 {
                dst.push_str(&src[last..i]);
                dst.push_str("hex");
                last = i + 8;
                i += 8;
                continue;
            }
        }
        i += 1;
    }
    dst.push_str(&src[last..]);
}

/// Maximal hex runs of exactly 128, 64, 56, 40 or 32 characters → `hash`. After the `hex`
/// step no run of 8 or more is left, so in Elastic's order this never fires: kept, for
/// the property test that shows it.
#[cfg(test)]
fn replace_hash_runs(src: &str, dst: &mut String) {
    let b = src.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if is_hex(b[i]) {
            let n = hex_run(b, i);
            if matches!(n, 128 | 64 | 56 | 40 | 32) {
                dst.push_str(&src[last..i]);
                dst.push_str("hash");
                last = i + n;
            }
            i += n;
        } else {
            i += 1;
        }
    }
    dst.push_str(&src[last..]);
}

/// `[0-9]{5,}` → `num`.
fn replace_digit_runs(src: &str, dst: &mut String) {
    let b = src.as_bytes();
    // Fast exit when there are no digits at all (common for paths and short commands).
    if !b.iter().any(u8::is_ascii_digit) {
        dst.push_str(src);
        return;
    }
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j - i >= 5 {
                dst.push_str(&src[last..i]);
                dst.push_str("num");
                last = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    dst.push_str(&src[last..]);
}

/// Elastic's executable directory classes, in first-match order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathClass {
    WinSystemDir,
    WinTempDir,
    WinUserAppdataLocalTemp,
    WinUserAppdata,
    WinUserDownloads,
    WinUserDir,
    WinUsersRootDir,
    WinProgramFiles,
    WinProgramDataDir,
    WinSysVolInfoDir,
    WinRecycleBinDir,
    WinDir,
    WinRoot,
    Unknown,
}

impl PathClass {
    pub fn as_str(self) -> &'static str {
        match self {
            PathClass::WinSystemDir => "win_system_dir",
            PathClass::WinTempDir => "win_temp_dir",
            PathClass::WinUserAppdataLocalTemp => "win_user_appdata_local_temp",
            PathClass::WinUserAppdata => "win_user_appdata",
            PathClass::WinUserDownloads => "win_user_downloads",
            PathClass::WinUserDir => "win_user_dir",
            PathClass::WinUsersRootDir => "win_users_root_dir",
            PathClass::WinProgramFiles => "win_program_files",
            PathClass::WinProgramDataDir => "win_program_data_dir",
            PathClass::WinSysVolInfoDir => "win_sys_vol_info_dir",
            PathClass::WinRecycleBinDir => "win_recycle_bin_dir",
            PathClass::WinDir => "win_dir",
            PathClass::WinRoot => "win_root",
            PathClass::Unknown => "unknown",
        }
    }

    /// Stable ordinal (declaration order) for numeric use.
    pub fn code(self) -> f32 {
        self as u8 as f32
    }

    /// Directories a user can write to without elevation.
    pub fn user_writable(self) -> bool {
        matches!(
            self,
            PathClass::WinTempDir
                | PathClass::WinUserAppdataLocalTemp
                | PathClass::WinUserAppdata
                | PathClass::WinUserDownloads
                | PathClass::WinUserDir
                | PathClass::WinUsersRootDir
                | PathClass::WinProgramDataDir
                | PathClass::WinRecycleBinDir
                | PathClass::WinRoot
        )
    }
}

/// Substring test for short haystacks (paths): `memmem::find` builds a searcher per call,
/// which costs more than this scan from each occurrence of the first byte.
fn contains(h: &[u8], n: &[u8]) -> bool {
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    memchr::memchr_iter(first, h).any(|i| h[i + 1..].starts_with(rest))
}

/// `users\<one segment>\<tail>` anywhere in `h`.
fn users_segment_then(h: &[u8], tail: &[u8]) -> bool {
    let finder = users_finder();
    let mut pos = 0;
    while let Some(off) = finder.find(&h[pos..]) {
        let start = pos + off + 6;
        let mut j = start;
        while j < h.len() && h[j] != b'\\' {
            j += 1;
        }
        if j > start && j < h.len() && h[j + 1..].starts_with(tail) {
            return true;
        }
        pos = start;
    }
    false
}

/// Directory class of a lower-cased executable path (Elastic's `normalized_ppath`).
pub fn path_class(p: &str) -> PathClass {
    let h = p.as_bytes();
    if contains(h, br":\windows\system32") || contains(h, br"\syswow64") {
        PathClass::WinSystemDir
    } else if contains(h, br":\windows\temp") {
        PathClass::WinTempDir
    } else if users_segment_then(h, br"appdata\local\temp") {
        PathClass::WinUserAppdataLocalTemp
    } else if users_segment_then(h, b"appdata") {
        PathClass::WinUserAppdata
    } else if users_segment_then(h, b"downloads") {
        PathClass::WinUserDownloads
    } else if users_segment_then(h, b"") {
        PathClass::WinUserDir
    } else if contains(h, br":\users") {
        PathClass::WinUsersRootDir
    } else if contains(h, br":\program files") {
        PathClass::WinProgramFiles
    } else if contains(h, br":\programdata") {
        PathClass::WinProgramDataDir
    } else if contains(h, br":\system volume information") {
        PathClass::WinSysVolInfoDir
    } else if contains(h, br":\$recycle.bin") {
        PathClass::WinRecycleBinDir
    } else if contains(h, br":\windows") {
        PathClass::WinDir
    } else if h.len() >= 3
        && h[0].is_ascii_alphabetic()
        && &h[1..3] == br":\"
        && !h[3..].contains(&b'\\')
    {
        PathClass::WinRoot
    } else {
        PathClass::Unknown
    }
}

/// Shannon entropy in bits per byte.
pub fn entropy(b: &[u8]) -> f32 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &x in b {
        counts[x as usize] += 1;
    }
    // H = log2 n − (Σ c·log2 c) / n: one table look-up per distinct byte instead of a
    // division and a logarithm.
    let table = c_log2_c();
    let sum: f64 = counts
        .iter()
        .filter(|&&c| c > 1)
        .map(|&c| match table.get(c as usize) {
            Some(v) => *v,
            None => f64::from(c) * f64::from(c).log2(),
        })
        .sum();
    let n = b.len() as f64;
    (n.log2() - sum / n).max(0.0) as f32
}

/// `c·log2 c` for the counts of short strings.
fn c_log2_c() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=1024u32)
            .map(|c| {
                if c < 2 {
                    0.0
                } else {
                    f64::from(c) * f64::from(c).log2()
                }
            })
            .collect()
    })
}

/// The first `n` characters of `s`.
pub fn take_chars(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    if s.is_ascii() {
        return &s[..n];
    }
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Cut `s` to at most `n` bytes, backing off to a `char` boundary.
pub fn take_bytes(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn hash_step_never_fires_after_hex_step(s in "[0-9a-fx\\- ]{0,160}") {
            let (mut hexed, mut hashed) = (String::new(), String::new());
            replace_hex(&s, &mut hexed);
            replace_hash_runs(&hexed, &mut hashed);
            proptest::prop_assert_eq!(hashed, hexed);
        }
    }

    fn norm_path(s: &str) -> String {
        let (mut d, mut t) = (String::new(), String::new());
        elastic_normalize_path(s, &mut d, &mut t);
        d
    }

    fn norm_cmd(s: &str) -> String {
        let mut b = norm_path(s);
        let mut t = String::new();
        elastic_normalize_command(&mut b, &mut t);
        b
    }

    #[test]
    fn path_steps_in_order() {
        assert_eq!(norm_path(r#""c:\\\users\bob\x.exe""#), r"c:\users\x.exe");
        assert_eq!(
            norm_path(r"c:\windows\system32\cmd.exe"),
            r"c:\win_system_dir\cmd.exe"
        );
        assert_eq!(norm_path("c:/windows/syswow64/a"), "c:/win_system_dir/a");
        // Quote removal before backslash collapsing joins `\"\` into one backslash.
        assert_eq!(norm_path(r#"a\"\b"#), r"a\b");
        // Users name dropped even at the end; `users\` alone is left.
        assert_eq!(norm_path(r"c:\users\bob"), r"c:\users");
        assert_eq!(norm_path(r"c:\users\"), r"c:\users\");
        // After collapsing, `users\\bob` is `users\bob`.
        assert_eq!(norm_path(r"c:\users\\bob\a"), r"c:\users\a");
    }

    #[test]
    fn command_steps_in_order() {
        assert_eq!(
            norm_cmd("x 6f9619ff-8b86-d011-b42d-00c04fc964ff y"),
            "x process_id y"
        );
        assert_eq!(norm_cmd("deadbeef"), "hex");
        assert_eq!(norm_cmd("0x1f"), "hex");
        assert_eq!(norm_cmd("00x1f"), "0hex");
        assert_eq!(norm_cmd("deadbeefcafe"), "hexcafe");
        // 32-char hash: the 8-hex rule eats it first, `hash` never appears.
        assert_eq!(norm_cmd("d41d8cd98f00b204e9800998ecf8427e"), "hexhexhexhex");
        assert_eq!(norm_cmd("ping -n 12345"), "ping -n num");
        assert_eq!(norm_cmd("1234"), "1234");
        // Eight digits are hex before they are a number.
        assert_eq!(norm_cmd("12345678"), "hex");
        assert_eq!(norm_cmd("1234567890123"), "hexnum");
        // Three groups only: not a GUID; `abcd` groups too short for hex.
        assert_eq!(norm_cmd("abcd-abcd-abcd"), "abcd-abcd-abcd");
    }

    #[test]
    fn path_classes_first_match() {
        let c = |s: &str| path_class(s).as_str();
        assert_eq!(c(r"c:\windows\system32\cmd.exe"), "win_system_dir");
        assert_eq!(c(r"d:\x\syswow64\a.exe"), "win_system_dir");
        assert_eq!(c(r"c:\windows\temp\a.exe"), "win_temp_dir");
        assert_eq!(
            c(r"c:\users\bob\appdata\local\temp\a.exe"),
            "win_user_appdata_local_temp"
        );
        assert_eq!(c(r"c:\users\bob\appdata\roaming\a.exe"), "win_user_appdata");
        assert_eq!(c(r"c:\users\bob\downloads\a.exe"), "win_user_downloads");
        assert_eq!(c(r"c:\users\bob\a.exe"), "win_user_dir");
        assert_eq!(c(r"c:\users\a.exe"), "win_users_root_dir");
        assert_eq!(c(r"c:\program files (x86)\a\a.exe"), "win_program_files");
        assert_eq!(c(r"c:\programdata\a.exe"), "win_program_data_dir");
        assert_eq!(
            c(r"c:\system volume information\a.exe"),
            "win_sys_vol_info_dir"
        );
        assert_eq!(c(r"c:\$recycle.bin\a.exe"), "win_recycle_bin_dir");
        assert_eq!(c(r"c:\windows\explorer.exe"), "win_dir");
        assert_eq!(c(r"c:\a.exe"), "win_root");
        assert_eq!(c(r"\\server\share\a.exe"), "unknown");
        assert_eq!(c("unknown"), "unknown");
        // A user's folder under the system directory: system32 wins (first match).
        assert_eq!(
            c(r"c:\windows\system32\config\systemprofile\users\x\a.exe"),
            "win_system_dir"
        );
    }

    #[test]
    fn cuts_respect_chars() {
        assert_eq!(take_chars("héllo", 2), "hé");
        assert_eq!(take_bytes("hé", 2), "h");
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"ab") - 1.0).abs() < 1e-6);
    }
}
