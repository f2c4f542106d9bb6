//! The ingest pipeline: ECS fields → the recipe's features (Painless), then the inference
//! processor, then cleanup.
//!
//! For `elastic2021`/`elastic2026` the script computes every input as lotl does (spec
//! sections 2–3, including the reader's completion of names from paths and of well-known
//! SIDs). For `lotl`, only the features listed in [`LOTL_EXPRESSIBLE`] are computed; the
//! rest (hashed n-grams, entropy, LOLBAS tables, Jaro–Winkler look-alikes, ...) would need
//! lotl's tables and hashing inside Painless and are listed as not expressible.

use crate::bundle::Bundle;
use lotl_classifier::calibration::Calibration;
use lotl_features::RecipeConfig;

use super::RESULTS_PARENT;

/// A pipeline body and the recipe features it leaves missing.
pub struct IngestPipeline {
    pub body: serde_json::Value,
    pub not_expressible: Vec<String>,
}

/// `lotl` recipe features the pipeline computes.
pub const LOTL_EXPRESSIBLE: [&str; 5] = [
    "process_name",
    "parent_name",
    "parent_child",
    "signed",
    "signer_trusted",
];

/// Shared Painless helpers: field access on nested or dotted ECS documents, and the
/// lotl reader's completion and normalisation.
const HELPERS: &str = r#"
def fieldOf(Map c, String p) {
  if (c.containsKey(p)) { return c.get(p); }
  def cur = c;
  for (String k : p.splitOnToken('.')) {
    if (cur instanceof Map && ((Map) cur).containsKey(k)) { cur = ((Map) cur).get(k); } else { return null; }
  }
  return cur;
}
String str(Map c, String p) {
  def v = fieldOf(c, p);
  if (v instanceof List) { if (((List) v).isEmpty()) { return null; } v = ((List) v).get(0); }
  if (v == null) { return null; }
  String s = v.toString();
  return s.isEmpty() ? null : s;
}
String first(Map c, String a, String b) { String s = str(c, a); return s != null ? s : str(c, b); }
String orUnknown(String s) { return (s == null || s.isEmpty()) ? 'unknown' : s; }
String baseName(String p) {
  if (p == null) { return null; }
  int i = Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/'));
  String t = p.substring(i + 1).trim();
  return t.isEmpty() ? null : t;
}
def boolOf(def v) {
  if (v == null) { return null; }
  if (v instanceof Boolean) { return v; }
  String s = v.toString().trim().toLowerCase();
  if (s == 'true' || s == '1') { return true; }
  if (s == 'false' || s == '0') { return false; }
  return null;
}
String integrity(String r) {
  if (r == null) { return null; }
  String t = r.trim(); String u = t.toUpperCase();
  if (u == '' || u == '-') { return null; }
  if (u == 'S-1-16-0') { return 'untrusted'; }
  if (u == 'S-1-16-4096') { return 'low'; }
  if (u == 'S-1-16-8192' || u == 'S-1-16-8448') { return 'medium'; }
  if (u == 'S-1-16-12288') { return 'high'; }
  if (u == 'S-1-16-16384') { return 'system'; }
  if (u == 'S-1-16-20480') { return 'protected'; }
  return t.toLowerCase();
}
String elevationType(String r) {
  if (r == null) { return null; }
  String t = r.trim();
  if (t == '' || t == '-') { return null; }
  if (t == '%%1936' || t == 'TokenElevationTypeDefault' || t == '1') { return 'default'; }
  if (t == '%%1937' || t == 'TokenElevationTypeFull' || t == '2') { return 'full'; }
  if (t == '%%1938' || t == 'TokenElevationTypeLimited' || t == '3') { return 'limited'; }
  return t.toLowerCase();
}
String userId(Map c) {
  String id = first(c, 'user.id', 'winlog.user.identifier');
  if (id != null) { return id; }
  String n = str(c, 'user.name');
  if (n == null) { return null; }
  n = n.trim();
  if (n.equalsIgnoreCase('SYSTEM') || n.equalsIgnoreCase('LocalSystem')) { return 'S-1-5-18'; }
  if (n.equalsIgnoreCase('LOCAL SERVICE')) { return 'S-1-5-19'; }
  if (n.equalsIgnoreCase('NETWORK SERVICE')) { return 'S-1-5-20'; }
  return null;
}
String commandLine(Map c) {
  String cl = str(c, 'process.command_line');
  if (cl != null) { return cl; }
  def a = fieldOf(c, 'process.args');
  if (a instanceof List && !((List) a).isEmpty()) { return String.join(' ', (List) a); }
  return null;
}
"#;

/// Elastic's recipe (both generations); `params.y2026` selects the generation.
const ELASTIC_SCRIPT: &str = r#"
String normPath(String s) {
  s = s.replace('"', '');
  s = /\\{2,}/.matcher(s).replaceAll('\\\\');
  s = /users\\[^\\]+/.matcher(s).replaceAll('users');
  s = /windows[\\\x2f](system32|syswow64)/.matcher(s).replaceAll('win_system_dir');
  return s;
}
String normCommand(String s) {
  s = /[0-9a-f]{4,}-[0-9a-f]{4,}-[0-9a-f]{4,}-[0-9a-f-]{4,}/.matcher(s).replaceAll('process_id');
  s = /0x[0-9a-f]+|[0-9a-f]{8}/.matcher(s).replaceAll('hex');
  s = /(?<![0-9a-f])(?:[0-9a-f]{128}|[0-9a-f]{64}|[0-9a-f]{56}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9a-f])/.matcher(s).replaceAll('hash');
  s = /[0-9]{5,}/.matcher(s).replaceAll('num');
  return s;
}
String pathClass(String h) {
  if (h.contains(':\\windows\\system32') || h.contains('\\syswow64')) { return 'win_system_dir'; }
  if (h.contains(':\\windows\\temp')) { return 'win_temp_dir'; }
  if (/users\\[^\\]+\\appdata\\local\\temp/.matcher(h).find()) { return 'win_user_appdata_local_temp'; }
  if (/users\\[^\\]+\\appdata/.matcher(h).find()) { return 'win_user_appdata'; }
  if (/users\\[^\\]+\\downloads/.matcher(h).find()) { return 'win_user_downloads'; }
  if (/users\\[^\\]+\\/.matcher(h).find()) { return 'win_user_dir'; }
  if (h.contains(':\\users')) { return 'win_users_root_dir'; }
  if (h.contains(':\\program files')) { return 'win_program_files'; }
  if (h.contains(':\\programdata')) { return 'win_program_data_dir'; }
  if (h.contains(':\\system volume information')) { return 'win_sys_vol_info_dir'; }
  if (h.contains(':\\$recycle.bin')) { return 'win_recycle_bin_dir'; }
  if (h.contains(':\\windows')) { return 'win_dir'; }
  if (/[a-z]:\\[^\\]*/.matcher(h).matches()) { return 'win_root'; }
  return 'unknown';
}
void bigrams(Map c, String name, String s, int n) {
  String t = s.length() > 100 ? s.substring(0, 100) : s;
  int pushed = 0;
  for (int i = 0; i + 1 < t.length() && i < n; i++) { c.put(name + '_2-gram_feature' + i, t.substring(i, i + 2)); pushed++; }
  if (pushed < n) { c.put(name + '_2-gram_feature' + pushed, ''); }
}
int b(boolean v) { return v ? 1 : 0; }

boolean y26 = params.y2026;
String exeRaw = str(ctx, 'process.executable');
String pname = str(ctx, 'process.name');
if (pname == null) { pname = baseName(exeRaw); }
String parentExe = str(ctx, 'process.parent.executable');
String parent = str(ctx, 'process.parent.name');
if (parent == null) { parent = baseName(parentExe); }
String et = elevationType(first(ctx, 'process.Ext.token.elevation_type', 'winlog.event_data.TokenElevationType'));
String il = integrity(first(ctx, 'process.Ext.token.integrity_level_name', 'winlog.event_data.IntegrityLevel'));

String cl = orUnknown(commandLine(ctx)).toLowerCase();
boolean caret = false;
if (y26) {
  int n = 0;
  for (int i = 0; i < cl.length(); i++) { if (cl.charAt(i) == (char) '^') { n++; } }
  caret = n >= 2;
  if (n > 0) { cl = cl.replace('^', ''); }
}
cl = normCommand(normPath(cl));

ctx.put('event_action', orUnknown(str(ctx, 'event.action')));
ctx.put('elevation_type', y26 ? orUnknown(et).toLowerCase() : orUnknown(et));
ctx.put('integrity_level', y26 ? orUnknown(il).toLowerCase() : orUnknown(il));
String exe = orUnknown(exeRaw).toLowerCase();
ctx.put('normalized_ppath', pathClass(exe));

def elev = boolOf(fieldOf(ctx, 'process.Ext.token.elevation'));
ctx.put('elevated', b(elev != null ? elev : et != null));
def signedV = boolOf(fieldOf(ctx, 'process.code_signature.exists'));
if (signedV == null) { signedV = boolOf(fieldOf(ctx, 'winlog.event_data.Signed')); }
ctx.put('signed', b(signedV == true));
def trustedV = boolOf(fieldOf(ctx, 'process.code_signature.trusted'));
if (trustedV == null) { String st = str(ctx, 'winlog.event_data.SignatureStatus'); if (st != null) { trustedV = st == 'Valid'; } }
ctx.put('signer_trusted', b(trustedV == true));
String pn = orUnknown(pname);
ctx.put('filename_mismatch', b(pn != orUnknown(first(ctx, 'process.pe.original_file_name', 'winlog.event_data.OriginalFileName'))));
String uid = userId(ctx);
ctx.put('running_as_system', b(uid == 'S-1-5-18' || uid == 'S-1-5-19' || uid == 'S-1-5-20'));
ctx.put('ends_with_exe', b(pn.contains('.exe')));

bigrams(ctx, 'process_name', pn, 66);
bigrams(ctx, 'parent_name', orUnknown(parent), 100);
bigrams(ctx, 'process_executable', normPath(exe), 100);
bigrams(ctx, 'parent_executable', normPath(orUnknown(parentExe).toLowerCase()), 100);
bigrams(ctx, 'command_line', cl, 100);

if (y26) {
  ctx.put('cmd_obfuscation', b(caret));
  ctx.put('credential_access', b(cl.contains('sekurlsa') || cl.contains('mimikatz') || cl.contains('logonpasswords') || cl.contains('lsadump') || cl.contains('dcsync') || cl.contains('procdump') || cl.contains('gsecdump') || cl.contains('hashdump') || cl.contains('wce.exe')));
  ctx.put('download_cradle', b(cl.contains('certutil') || cl.contains('bitsadmin') || cl.contains('invoke-webrequest') || cl.contains('net.webclient') || cl.contains('downloadstring') || cl.contains('bitstransfer') || cl.contains('desktopimgdownldr') || cl.contains('urldownloadtofile')));
  ctx.put('lateral_movement', b(cl.contains('psexec') || cl.contains('winrs') || cl.contains('new-pssession') || cl.contains('invoke-command') || (cl.contains('wmic') && cl.contains('node')) || (cl.contains('schtasks') && cl.contains('/s ')) || (cl.contains('sc ') && cl.contains('\\\\'))));
  ctx.put('kerberoasting', b(cl.contains('rubeus') || cl.contains('kerberoast') || cl.contains('asktgt') || cl.contains('krbtgt') || cl.contains('domainspnticket') || cl.contains('asreproast')));
  ctx.put('recon', b(cl.contains('whoami') || cl.contains('nltest') || (cl.contains('net ') && (cl.contains(' user') || cl.contains(' group') || cl.contains(' localgroup')))));
  ctx.put('defense_evasion', b(cl.contains('-exec bypass') || cl.contains('-encodedcommand') || cl.contains('iex ') || cl.contains('iex(') || cl.contains('invoke-expression') || cl.contains('set-mppreference') || cl.contains('disablerealtimemonitoring') || cl.contains('-enc ')));
  ctx.put('persistence', b(cl.contains('runonce') || cl.contains('new-scheduledtask') || cl.contains('register-scheduledtask') || (cl.contains('schtasks') && cl.contains('/create')) || (cl.contains('reg add') && (cl.contains('hklm') || cl.contains('hkcu')))));
  ctx.put('exfiltration', b(cl.contains('writeallbytes') || cl.contains('compress-archive') || cl.contains('base64string') || (cl.contains('certutil') && cl.contains('-encode'))));
}
"#;

/// The expressible part of the `lotl` recipe.
const LOTL_SCRIPT: &str = r#"
String pname = str(ctx, 'process.name');
if (pname == null) { pname = baseName(str(ctx, 'process.executable')); }
String parent = str(ctx, 'process.parent.name');
if (parent == null) { parent = baseName(str(ctx, 'process.parent.executable')); }
String n = orUnknown(pname).toLowerCase();
String p = orUnknown(parent).toLowerCase();
ctx.put('process_name', n);
ctx.put('parent_name', p);
ctx.put('parent_child', p + '|' + n);
def signedV = boolOf(fieldOf(ctx, 'process.code_signature.exists'));
if (signedV != null) { ctx.put('signed', signedV ? 1 : 0); }
def trustedV = boolOf(fieldOf(ctx, 'process.code_signature.trusted'));
if (trustedV != null) { ctx.put('signer_trusted', trustedV ? 1 : 0); }
"#;

/// Applies isotonic calibration after inference and recomputes the prediction.
const ISOTONIC_SCRIPT: &str = r#"
def r = ctx[params.parent];
if (r != null && r.prediction_probability != null) {
  double p = r.prediction_probability;
  List x = params.x; List y = params.y;
  double q;
  if (x.isEmpty()) { q = p; }
  else if (p <= x.get(0)) { q = y.get(0); }
  else if (p >= x.get(x.size() - 1)) { q = y.get(y.size() - 1); }
  else {
    int lo = 0; int hi = x.size() - 1;
    while (hi - lo > 1) { int mid = (lo + hi) / 2; if (x.get(mid) <= p) { lo = mid; } else { hi = mid; } }
    double x0 = x.get(lo); double x1 = x.get(hi);
    q = x1 > x0 ? y.get(lo) + (y.get(hi) - y.get(lo)) * (p - x0) / (x1 - x0) : y.get(hi);
  }
  r.prediction_probability = q;
  r.prediction = q >= params.threshold ? 1 : 0;
}
"#;

const CLEANUP_SCRIPT: &str = r#"
for (String f : params.fields) { ctx.remove(f); }
"#;

/// Build the pipeline for a bundle.
pub fn ingest_pipeline(bundle: &Bundle, model_id: &str) -> IngestPipeline {
    let recipe = bundle.pipeline.recipe();
    let all: Vec<String> = recipe
        .features()
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let (source, y2026, not_expressible) = match bundle.pipeline.recipe_config() {
        RecipeConfig::Elastic2021 => (ELASTIC_SCRIPT, false, Vec::new()),
        RecipeConfig::Elastic2026 => (ELASTIC_SCRIPT, true, Vec::new()),
        RecipeConfig::Lotl(_) => (
            LOTL_SCRIPT,
            false,
            all.iter()
                .filter(|f| !LOTL_EXPRESSIBLE.contains(&f.as_str()))
                .cloned()
                .collect(),
        ),
    };
    let mut description = format!(
        "lotl {} features from ECS process events, then model {model_id}",
        recipe.name()
    );
    if !not_expressible.is_empty() {
        description.push_str(&format!(
            ". NOT computed here (left missing, so scores differ from lotl predict; compute them upstream): {}",
            not_expressible.join(", ")
        ));
    }
    let mut processors = vec![
        serde_json::json!({
            "script": {
                "tag": "lotl_features",
                "description": format!("compute the {} recipe's model inputs", recipe.name()),
                "lang": "painless",
                "source": format!("{HELPERS}{source}"),
                "params": { "y2026": y2026 }
            }
        }),
        serde_json::json!({
            "inference": {
                "tag": "lotl_inference",
                "model_id": model_id,
                "target_field": RESULTS_PARENT,
                "inference_config": { "classification": {
                    "num_top_classes": 0,
                    "results_field": "prediction",
                    "prediction_field_type": "number"
                } }
            }
        }),
    ];
    if let Calibration::Isotonic { x, y } = bundle.calibration() {
        processors.push(serde_json::json!({
            "script": {
                "tag": "lotl_isotonic_calibration",
                "description": "isotonic calibration of prediction_probability and the bundle's threshold",
                "lang": "painless",
                "source": ISOTONIC_SCRIPT,
                "params": {
                    "parent": RESULTS_PARENT,
                    "x": x.iter().map(|v| f64::from(*v)).collect::<Vec<_>>(),
                    "y": y.iter().map(|v| f64::from(*v)).collect::<Vec<_>>(),
                    "threshold": f64::from(bundle.manifest.threshold.threshold),
                }
            }
        }));
    }
    processors.push(serde_json::json!({
        "script": {
            "tag": "lotl_cleanup",
            "description": "drop the temporary feature fields",
            "lang": "painless",
            "source": CLEANUP_SCRIPT,
            "params": { "fields": all }
        }
    }));
    IngestPipeline {
        body: serde_json::json!({
            "description": description,
            "processors": processors,
            "on_failure": [ { "set": {
                "field": "error.message",
                "value": "lotl pipeline failed in {{ _ingest.on_failure_processor_tag }}: {{ _ingest.on_failure_message }}"
            } } ],
            "_meta": { "lotl_recipe": recipe.name(), "not_expressible": not_expressible }
        }),
        not_expressible,
    }
}
