//! Exact `f64` round trips through JSON.
//!
//! serde_json's default float parser may be one ULP off for long decimals; a restarted engine
//! would then drift from an uninterrupted one and alerts could differ. State floats are
//! therefore written as strings in Rust's shortest round-trip form and parsed with the
//! correctly rounded `str::parse`.

use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_f64(*v))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = String::deserialize(d)?;
    parse_f64(&s).map_err(D::Error::custom)
}

fn format_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{v:?}")
    }
}

fn parse_f64(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|e| format!("bad exact float `{s}`: {e}"))
}

/// The same for `Vec<f64>`.
pub mod vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&format_f64(*x))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| parse_f64(s).map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "super")]
        a: f64,
        #[serde(with = "super::vec")]
        b: Vec<f64>,
    }

    #[test]
    fn awkward_floats_round_trip_bit_for_bit() {
        let mut x = 0.1f64;
        let mut b = Vec::new();
        for i in 0..2000 {
            x = (x * 1.618_033_988_749_895 + (i as f64).sqrt()).fract() / 3.0e-7;
            b.push(x.ln_1p() * 1e-300f64.max(x.recip()));
        }
        let t = T { a: x, b };
        let s = serde_json::to_string(&t).unwrap();
        let back: T = serde_json::from_str(&s).unwrap();
        assert_eq!(t.a.to_bits(), back.a.to_bits());
        for (p, q) in t.b.iter().zip(&back.b) {
            assert_eq!(p.to_bits(), q.to_bits());
        }
    }
}
