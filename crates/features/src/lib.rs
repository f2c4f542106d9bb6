//! lotl-features: process-start events → features → dense `f32` rows for the classifier.
//!
//! A [`FeatureRecipe`] turns one [`ProcessEvent`](lotl_events::ProcessEvent) into a
//! [`FeatureRow`] of numeric (`f32`, `NaN` = missing) and categorical (string) values. The
//! same `featurize` call serves single events (the streaming scorer) and batches
//! ([`featurize_batch`], parallel with rayon). A fitted [`FeaturePipeline`] (recipe +
//! frequency/target-mean encoders, serialisable with the model) gives the dense matrix.
//!
//! # Recipes and their features
//!
//! Every feature's precise meaning is the doc string of its [`FeatureSpec`] (listed by
//! `lotl features --describe -r <recipe>`); this is the overview.
//!
//! ## `elastic2021` (476 features; Elastic ProblemChild 2021, spec section 2)
//! Field fallbacks: first non-empty source else `"unknown"`; command line = command line,
//! else arguments joined by a space. Command line and both executables lower-cased and
//! normalised (drop `"`, collapse `\\`, `users\<name>` → `users`, system dirs →
//! `win_system_dir`; command line only: GUID → `process_id`, `0x…`/8 hex → `hex`, hash runs
//! → `hash`, 5+ digits → `num`).
//! - categorical: `event_action`, `elevation_type`, `integrity_level`, `normalized_ppath`
//! - numeric 0/1: `elevated`, `signed`, `signer_trusted`, `filename_mismatch`,
//!   `running_as_system`, `ends_with_exe`
//! - categorical positional bigrams `<field>_2-gram_feature<i>`: `process_name` 0–65,
//!   `parent_name`, `process_executable`, `parent_executable`, `command_line` 0–99
//!   (cut to 100 characters, last position `""`, past the end missing)
//! - not a model input: the blocklist ([`elastic::blocklist_hit`]).
//!
//! ## `elastic2026` (485 features; spec section 3)
//! All of 2021 (integrity and elevation lower-cased), plus numeric 0/1 `cmd_obfuscation`
//! (two or more `^`, then stripped) and eight keyword families: `credential_access`,
//! `download_cradle`, `lateral_movement`, `kerberoasting`, `recon`, `defense_evasion`,
//! `persistence`, `exfiltration`.
//!
//! ## `lotl` (3 categorical + 59 scalar + `cl_buckets` + `path_buckets` numeric)
//! - categorical: `process_name`, `parent_name`, `parent_child` (lower-cased)
//! - command-line shape: `cl_len`, `cl_tokens`, `cl_max_token_len`, `cl_flags`,
//!   `cl_entropy`, `cl_punct_share`, `cl_upper_share`, `cl_digit_share`,
//!   `cl_nonascii_share`, `cl_quotes`
//! - tokens: `cl_urls`, `cl_ipv4`, `cl_unc`, `cl_b64_max_run`, `cl_encoded_markers`,
//!   `cl_script_ext`, `cl_ps_stealth`
//! - obfuscation: `cl_carets`, `cl_backticks`, `cl_case_flips`, `cl_space_runs`,
//!   `cl_obf_markers`
//! - keywords: `kw_<family>` for Elastic 2026's eight families, `kw_blocklist`
//! - image and masquerading: `proc_path_class`, `proc_user_writable_dir`,
//!   `proc_path_depth`, `proc_name_len`, `proc_not_exe`, `proc_double_ext`,
//!   `proc_is_system_binary`, `masq_outside_legit_dir` (LOLBAS full paths),
//!   `masq_lookalike` (Jaro–Winkler to system names), `pe_name_mismatch`,
//!   `pe_renamed_system_binary`, `signed`, `signer_trusted`
//! - parent context: `parent_path_class`, `parent_is_office`, `parent_is_script_host`,
//!   `parent_is_browser`, `parent_is_service_host`, `parent_is_system_binary`,
//!   `child_is_shell`, `parent_cl_len`
//! - user and token: `user_system`, `user_service`, `user_human`, `user_unknown`,
//!   `integrity`, `elevation`, `elevated`
//! - hashed n-grams: `cl_ngram_<b>` (1–4-grams of the normalised command line, default
//!   256 buckets) and `path_ngram_<b>` (of both normalised paths, default 64), term
//!   frequencies.
//!
//! # Encoded columns
//! Numeric features keep their name; each categorical feature `f` becomes `f_frequency`
//! and `f_targetmean` (see [`encode`]).

pub mod elastic;
pub mod encode;
pub mod error;
mod fasthash;
pub mod lolbas;
pub mod lotl;
pub mod memo;
pub mod recipe;
pub mod row;
pub mod table;
pub mod text;

pub use encode::{CategoryEncoder, DenseMatrix, EncoderParams, FeaturePipeline, ScoringPlan};
pub use error::Error;
pub use lotl::LotlParams;
pub use recipe::{FeatureRecipe, RecipeConfig};
pub use row::{FeatureKind, FeatureRow, FeatureSpec, FeatureValue};
pub use table::{
    featurize_batch, featurize_batch_with_progress, featurize_frame, featurize_parquet,
    featurize_parquet_file, CatColumn, FeatureTable, FeaturizeFileStats,
};
