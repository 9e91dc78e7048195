//! Model files the service loads: the training layer's `model.json` (binary logistic
//! regression) and `sklearn-linear-v1`, which a scikit-learn user writes from `coef_`,
//! `intercept_` and a fitted `StandardScaler`.
//!
//! The scaler is folded into the weights (w_i / scale_i, b - sum w_i mean_i / scale_i), so
//! clients send raw features. The folded weights are then fixed-point encoded with the
//! public base-16 exponent [`WEIGHT_EXPONENT`] as 64-bit mantissas, the secret exponents of
//! the multi-exponentiation.

use serde::Deserialize;
use serde_json::Value;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ServeError;

/// The base-16 exponent of the encoded weights: w is served as round(w 16^11) 16^-11.
pub const WEIGHT_EXPONENT: i32 = -11;
/// Largest folded weight or intercept in magnitude: the mantissa stays below 2^62.
pub const MAX_WEIGHT: f64 = (1u64 << 18) as f64;
/// Most features a served model may take.
pub const MAX_FEATURES: usize = 4096;
/// Largest model file read.
pub const MAX_MODEL_BYTES: u64 = 64 << 20;

/// What the score means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A linear regression: the score is the prediction.
    Linear,
    /// A logistic regression: the score is the logit; the client applies the sigmoid.
    Logistic,
}

impl OutputKind {
    /// "linear" or "logistic".
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Linear => "linear",
            OutputKind::Logistic => "logistic",
        }
    }
}

/// The model's weights as fixed-point mantissas at [`WEIGHT_EXPONENT`].
///
/// # Security
/// Secret (the model owner's): no `Clone`, no printing `Debug`, zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EncodedWeights {
    pub(crate) w: Vec<i64>,
    pub(crate) b: i64,
}

/// A linear model ready to serve: public metadata and secret encoded weights.
pub struct LinearModel {
    /// The output kind.
    pub kind: OutputKind,
    /// Feature names, in the order the client sends them.
    pub features: Vec<String>,
    /// The file format it came from.
    pub source: &'static str,
    pub(crate) weights: EncodedWeights,
}

impl core::fmt::Debug for LinearModel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LinearModel")
            .field("kind", &self.kind)
            .field("features", &self.features)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Coef {
    Flat(Vec<f64>),
    Rows(Vec<Vec<f64>>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Intercept {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkScaler {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkModel {
    #[allow(dead_code)]
    format: String,
    kind: String,
    features: Vec<String>,
    coef: Coef,
    intercept: Intercept,
    scaler: Option<SkScaler>,
}

fn bad(msg: impl Into<String>) -> ServeError {
    ServeError::Model(msg.into())
}

impl LinearModel {
    /// Reads and checks a model file.
    ///
    /// # Errors
    /// [`ServeError::Model`] for an unreadable or oversized file and those of
    /// [`LinearModel::from_json`].
    pub fn load(path: &std::path::Path) -> Result<Self, ServeError> {
        let err = |m: String| bad(format!("{}: {m}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.len() > MAX_MODEL_BYTES {
            return Err(err("larger than 64 MiB".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::from_json(&text).map_err(|e| match e {
            ServeError::Model(m) => err(m),
            other => other,
        })
    }

    /// Parses and checks a model: `sklearn-linear-v1`, or (feature `train`) the training
    /// layer's `shroud-model` file of a binary logistic regression.
    ///
    /// # Errors
    /// [`ServeError::Model`] naming the problem: bad JSON, an unknown format or kind,
    /// mismatched lengths, duplicate or empty feature names, non-finite numbers, a scale
    /// that is not positive, a model that is not linear, or a folded weight above
    /// [`MAX_WEIGHT`].
    pub fn from_json(text: &str) -> Result<Self, ServeError> {
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        match v.get("format").and_then(Value::as_str) {
            Some("sklearn-linear-v1") => Self::from_sklearn(text),
            Some("shroud-model") => Self::from_training(text),
            Some(other) => Err(bad(format!(
                "unknown format {other:?}: expected \"sklearn-linear-v1\" or \"shroud-model\""
            ))),
            None => Err(bad("missing \"format\" field")),
        }
    }

    fn from_sklearn(text: &str) -> Result<Self, ServeError> {
        let m: SkModel = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let kind = match m.kind.as_str() {
            "linear" => OutputKind::Linear,
            "logistic" => OutputKind::Logistic,
            k => {
                return Err(bad(format!(
                    "kind {k:?}: expected \"linear\" or \"logistic\""
                )));
            }
        };
        let coef = Zeroizing::new(match m.coef {
            Coef::Flat(c) => c,
            Coef::Rows(mut rows) if rows.len() == 1 => rows.remove(0),
            Coef::Rows(rows) => {
                return Err(bad(format!(
                    "coef has {} rows: only a single output (binary or regression) can be served",
                    rows.len()
                )));
            }
        });
        let intercept = match m.intercept {
            Intercept::One(b) => b,
            Intercept::Many(v) if v.len() == 1 => v[0],
            Intercept::Many(v) => {
                return Err(bad(format!(
                    "intercept has {} values; one expected",
                    v.len()
                )));
            }
        };
        let (mean, scale) = match m.scaler {
            Some(s) => (s.mean, s.scale),
            None => (vec![0.0; coef.len()], vec![1.0; coef.len()]),
        };
        Self::build(
            kind,
            m.features,
            &coef,
            intercept,
            &mean,
            &scale,
            "sklearn-linear-v1",
        )
    }

    #[cfg(feature = "train")]
    fn from_training(text: &str) -> Result<Self, ServeError> {
        use crate::train::network::Architecture;
        let model =
            crate::train::model_file::Model::from_json(text).map_err(|e| bad(e.to_string()))?;
        if *model.network.architecture() != Architecture::Logistic {
            return Err(bad(format!(
                "a {} model is not linear: only logistic regression (logreg) can be served",
                model.network.architecture().name()
            )));
        }
        let layer = model
            .network
            .layers()
            .first()
            .ok_or_else(|| bad("model has no layer"))?;
        let coef = Zeroizing::new(layer.w.column(0).to_vec());
        let intercept = *layer.b.first().ok_or_else(|| bad("layer has no bias"))?;
        Self::build(
            OutputKind::Logistic,
            model.feature_names.clone(),
            &coef,
            intercept,
            &model.scaler.shift,
            &model.scaler.scale,
            "shroud-model",
        )
    }

    #[cfg(not(feature = "train"))]
    fn from_training(_text: &str) -> Result<Self, ServeError> {
        Err(bad(
            "shroud-model files need the `train` feature (this build has it off)",
        ))
    }

    fn build(
        kind: OutputKind,
        features: Vec<String>,
        coef: &[f64],
        intercept: f64,
        mean: &[f64],
        scale: &[f64],
        source: &'static str,
    ) -> Result<Self, ServeError> {
        let d = features.len();
        if d == 0 {
            return Err(bad("the model has no features"));
        }
        if d > MAX_FEATURES {
            return Err(bad(format!(
                "{d} features; at most {MAX_FEATURES} are served"
            )));
        }
        if coef.len() != d || mean.len() != d || scale.len() != d {
            return Err(bad(format!(
                "{d} feature names but {} coefficients, {} means and {} scales",
                coef.len(),
                mean.len(),
                scale.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &features {
            if f.is_empty() || f.len() > 256 {
                return Err(bad("feature names must have 1 to 256 bytes"));
            }
            if !seen.insert(f.as_str()) {
                return Err(bad(format!("duplicate feature name {f:?}")));
            }
        }
        let finite = |xs: &[f64]| xs.iter().all(|x| x.is_finite());
        if !finite(coef) || !intercept.is_finite() || !finite(mean) || !finite(scale) {
            return Err(bad(
                "coefficients, intercept and scaler must be finite numbers",
            ));
        }
        if scale.iter().any(|s| *s <= 0.0) {
            return Err(bad("every scaler scale must be positive"));
        }
        // Fold the scaler: w_i / s_i and b - sum w_i m_i / s_i.
        let folded = Zeroizing::new(
            coef.iter()
                .zip(scale)
                .map(|(c, s)| c / s)
                .collect::<Vec<f64>>(),
        );
        let b = intercept - folded.iter().zip(mean).map(|(w, m)| w * m).sum::<f64>();
        let w = folded
            .iter()
            .map(|x| encode_weight(*x))
            .collect::<Result<Vec<i64>, _>>()?;
        let b = encode_weight(b)?;
        Ok(LinearModel {
            kind,
            features,
            source,
            weights: EncodedWeights { w, b },
        })
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The weights for secret-shared inference ([`crate::mpc::infer`]), rounded from
    /// 16^-11 to `frac` fractional bits.
    ///
    /// # Errors
    /// [`crate::mpc::MpcError::InvalidInput`] for more than 44 fractional bits.
    pub fn mpc_weights(
        &self,
        frac: crate::mpc::FractionalBits,
    ) -> Result<crate::mpc::infer::Weights, crate::mpc::MpcError> {
        crate::mpc::infer::Weights::from_fixed(
            &self.weights.w,
            self.weights.b,
            (-4 * WEIGHT_EXPONENT) as u32,
            self.kind == OutputKind::Logistic,
            frac,
        )
    }
}

/// round(x 16^-WEIGHT_EXPONENT) as i64 (the scaling by 2^44 is exact in f64).
fn encode_weight(x: f64) -> Result<i64, ServeError> {
    if !x.is_finite() || x.abs() >= MAX_WEIGHT {
        return Err(bad(format!(
            "a folded weight or intercept is not finite or at least {MAX_WEIGHT} in magnitude \
             (the 64-bit fixed point at 16^{WEIGHT_EXPONENT} holds |w| < 2^18)"
        )));
    }
    let scaled = (x * 2f64.powi(-4 * WEIGHT_EXPONENT)).round();
    // |scaled| < 2^62: the cast is exact.
    Ok(scaled as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sklearn_scaler_is_folded() {
        let m = LinearModel::from_json(
            r#"{"format":"sklearn-linear-v1","kind":"logistic","features":["a","b"],
                "coef":[[2.0,-1.0]],"intercept":[0.5],"scaler":{"mean":[1.0,2.0],"scale":[2.0,4.0]}}"#,
        )
        .unwrap();
        let s = 2f64.powi(44);
        assert_eq!(m.weights.w, vec![s as i64, (-0.25 * s) as i64]);
        // 0.5 - (1.0 * 1.0 + (-0.25) * 2.0) = 0.0
        assert_eq!(m.weights.b, 0);
        assert_eq!(m.kind, OutputKind::Logistic);
    }

    #[test]
    fn bad_models_are_refused() {
        for (text, needle) in [
            (r#"{"format":"x"}"#, "unknown format"),
            (
                r#"{"format":"sklearn-linear-v1","kind":"svm","features":["a"],"coef":[1],"intercept":0}"#,
                "kind",
            ),
            (
                r#"{"format":"sklearn-linear-v1","kind":"linear","features":["a","a"],"coef":[1,2],"intercept":0}"#,
                "duplicate",
            ),
            (
                r#"{"format":"sklearn-linear-v1","kind":"linear","features":["a"],"coef":[1,2],"intercept":0}"#,
                "coefficients",
            ),
            (
                r#"{"format":"sklearn-linear-v1","kind":"linear","features":["a"],"coef":[1e30],"intercept":0}"#,
                "magnitude",
            ),
            (
                r#"{"format":"sklearn-linear-v1","kind":"linear","features":["a"],"coef":[1],"intercept":0,"scaler":{"mean":[0],"scale":[0]}}"#,
                "positive",
            ),
            (
                r#"{"format":"sklearn-linear-v1","kind":"linear","features":[],"coef":[],"intercept":0}"#,
                "no features",
            ),
            ("[", "not JSON"),
        ] {
            let e = LinearModel::from_json(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
