//! The model file (`model.json`): kind, feature names, label classes, scaler, weights and
//! the training's privacy record. The inference service reads it.
//!
//! Loading checks everything before use: the format and version, the layer shapes against
//! the architecture, finite weights and scaler values, and a privacy record that is either
//! absent (`null`: trained without differential privacy) or complete.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::dpsgd::{PrivacyRecord, feature_matrix};
use super::eval::{accuracy, auc_from_proba, balanced_accuracy};
use super::network::{Architecture, Dense, Network};
use crate::data::Dataset;
use crate::data::scaler::Scaler;

const FORMAT: &str = "shroud-model";
const VERSION: u32 = 1;
/// Largest model file read.
pub const MAX_MODEL_BYTES: u64 = 512 << 20;

#[derive(Serialize, Deserialize)]
struct LayerJson {
    /// in x out, row-major as nested rows
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
}

/// A trained model with everything needed to use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The network.
    pub network: Network,
    /// Feature names, in the order the network takes them.
    pub feature_names: Vec<String>,
    /// The label column's name.
    pub label: String,
    /// Label value of each class.
    pub classes: Vec<f64>,
    /// The scaling applied before the network.
    pub scaler: Scaler,
    /// The privacy record; None when trained without differential privacy.
    pub privacy: Option<PrivacyRecord>,
}

#[derive(Serialize, Deserialize)]
struct ModelJson {
    format: String,
    version: u32,
    model: Architecture,
    n_features: usize,
    feature_names: Vec<String>,
    label: String,
    classes: Vec<f64>,
    scaler: Scaler,
    layers: Vec<LayerJson>,
    privacy: Option<PrivacyRecord>,
}

/// Metrics of a model on a labelled data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Accuracy.
    pub accuracy: f64,
    /// Balanced accuracy.
    pub balanced_accuracy: f64,
    /// ROC AUC (None when a class is missing from the data).
    pub auc: Option<f64>,
    /// Rows evaluated.
    pub n: usize,
}

impl Model {
    /// The JSON form.
    ///
    /// # Errors
    /// [`TrainError::ModelFile`] if serialization fails (non-finite numbers).
    pub fn to_json(&self) -> Result<String, TrainError> {
        let layers = self
            .network
            .layers()
            .iter()
            .map(|l| LayerJson {
                w: l.w.rows().into_iter().map(|r| r.to_vec()).collect(),
                b: l.b.to_vec(),
            })
            .collect();
        let j = ModelJson {
            format: FORMAT.into(),
            version: VERSION,
            model: self.network.architecture().clone(),
            n_features: self.network.n_features(),
            feature_names: self.feature_names.clone(),
            label: self.label.clone(),
            classes: self.classes.clone(),
            scaler: self.scaler.clone(),
            layers,
            privacy: self.privacy.clone(),
        };
        serde_json::to_string_pretty(&j).map_err(|e| TrainError::ModelFile(e.to_string()))
    }

    /// Parses and checks a model file.
    ///
    /// # Errors
    /// [`TrainError::ModelFile`] for bad JSON, another format or version, mismatched
    /// names, classes or scaler, non-finite values or an incomplete privacy record;
    /// [`TrainError::Shape`] for layers that do not fit the architecture.
    pub fn from_json(text: &str) -> Result<Self, TrainError> {
        let bad = |m: String| TrainError::ModelFile(m);
        let j: ModelJson = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if j.format != FORMAT || j.version != VERSION {
            return Err(bad(format!("not a version-{VERSION} {FORMAT} file")));
        }
        let d = j.n_features;
        if j.feature_names.len() != d {
            return Err(bad("feature names do not match n_features".into()));
        }
        j.scaler.validate(d).map_err(|e| bad(e.to_string()))?;
        let mut classes = j.classes.clone();
        classes.sort_by(f64::total_cmp);
        classes.dedup();
        if classes.len() != j.classes.len()
            || classes != j.classes
            || classes.len() < 2
            || classes.iter().any(|c| !c.is_finite())
        {
            return Err(bad(
                "classes must be two or more finite values, ascending".into()
            ));
        }
        let mut layers = Vec::with_capacity(j.layers.len());
        for l in j.layers {
            let rows = l.w.len();
            let cols = l.w.first().map_or(0, Vec::len);
            if l.w.iter().any(|r| r.len() != cols) {
                return Err(TrainError::Shape("ragged weight matrix".into()));
            }
            let flat: Vec<f64> = l.w.into_iter().flatten().collect();
            let w = Array2::from_shape_vec((rows, cols), flat)
                .map_err(|e| TrainError::Shape(e.to_string()))?;
            layers.push(Dense { w, b: l.b.into() });
        }
        let network = Network::from_layers(&j.model, d, j.classes.len(), layers)?;
        if let Some(p) = &j.privacy {
            let ok = p.epsilon.is_finite()
                && p.epsilon >= 0.0
                && p.delta > 0.0
                && p.delta < 1.0
                && p.noise_multiplier > 0.0
                && p.noise_multiplier.is_finite()
                && p.sampling_rate > 0.0
                && p.sampling_rate <= 1.0
                && p.clip > 0.0
                && p.clip.is_finite()
                && (p.accountant == "rdp" || p.accountant == "pld");
            if !ok {
                return Err(bad("privacy record out of range".into()));
            }
        }
        Ok(Model {
            network,
            feature_names: j.feature_names,
            label: j.label,
            classes: j.classes,
            scaler: j.scaler,
            privacy: j.privacy,
        })
    }

    /// Reads and checks a model file.
    ///
    /// # Errors
    /// [`TrainError::ModelFile`] for an unreadable or oversized file, and those of
    /// [`Model::from_json`].
    pub fn load(path: &std::path::Path) -> Result<Self, TrainError> {
        let err = |m: String| TrainError::ModelFile(format!("{}: {m}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.len() > MAX_MODEL_BYTES {
            return Err(err("larger than 512 MiB".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Self::from_json(&text)
    }

    /// The (epsilon, delta) guarantee of everything released about the training data: the
    /// training's record plus, by basic composition, DP scaler statistics. None when the
    /// weights were trained without DP.
    pub fn guarantee(&self) -> Option<(f64, f64)> {
        let p = self.privacy.as_ref()?;
        Some(match self.scaler.source {
            crate::data::scaler::ScalerSource::DpStandardized { epsilon, delta } => {
                (p.epsilon + epsilon, p.delta + delta)
            }
            _ => (p.epsilon, p.delta),
        })
    }

    /// Class indices of `data`'s labels in this model's classes.
    ///
    /// # Errors
    /// [`TrainError::Shape`] for a label value the model does not know.
    pub fn class_indices(&self, data: &Dataset) -> Result<Vec<usize>, TrainError> {
        data.labels()
            .iter()
            .map(|&i| {
                let v = data.classes()[i];
                self.classes.iter().position(|&c| c == v).ok_or_else(|| {
                    TrainError::Shape(format!("label value {v} is not one of the model's classes"))
                })
            })
            .collect()
    }

    /// Scales `data` (whose features must be the model's, in order) and evaluates.
    ///
    /// # Errors
    /// [`TrainError::Shape`] for other features or unknown classes.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation, TrainError> {
        if data.feature_names() != self.feature_names.as_slice() {
            return Err(TrainError::Shape(format!(
                "the data's features {:?} are not the model's {:?}",
                data.feature_names(),
                self.feature_names
            )));
        }
        let y = self.class_indices(data)?;
        let scaled = self.scaler.apply(data)?;
        let x = feature_matrix(&scaled);
        let proba = self.network.predict_proba(x.view())?;
        let pred = self.network.predict(x.view())?;
        Ok(Evaluation {
            accuracy: accuracy(&pred, &y),
            balanced_accuracy: balanced_accuracy(&pred, &y, self.classes.len()),
            auc: auc_from_proba(proba.view(), &y),
            n: data.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::network::Activation;

    fn model() -> Model {
        let arch = Architecture::Mlp {
            hidden: vec![3],
            activation: Activation::Tanh,
        };
        Model {
            network: Network::new(&arch, 2, 3, 9).unwrap(),
            feature_names: vec!["a".into(), "b".into()],
            label: "y".into(),
            classes: vec![0.0, 1.0, 2.0],
            scaler: Scaler::identity(2),
            privacy: Some(PrivacyRecord {
                epsilon: 1.5,
                delta: 1e-5,
                noise_multiplier: 1.1,
                sampling_rate: 0.01,
                steps: 100,
                accountant: "rdp".into(),
                clip: 1.0,
            }),
        }
    }

    #[test]
    fn round_trips() {
        let m = model();
        assert_eq!(Model::from_json(&m.to_json().unwrap()).unwrap(), m);
    }

    #[test]
    fn tampered_files_are_refused() {
        let text = model().to_json().unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<Edit> = vec![
            Box::new(|v| v["version"] = 2.into()),
            Box::new(|v| v["layers"][0]["b"] = serde_json::json!([0.0])),
            Box::new(|v| v["layers"][0]["w"][0] = serde_json::json!([0.0])),
            Box::new(|v| v["classes"] = serde_json::json!([1.0, 0.0, 2.0])),
            Box::new(|v| v["scaler"]["scale"][0] = 0.0.into()),
            Box::new(|v| v["privacy"]["delta"] = 2.0.into()),
            Box::new(|v| v["privacy"]["accountant"] = "guess".into()),
            Box::new(|v| v["feature_names"] = serde_json::json!(["a"])),
            Box::new(|v| v["model"]["kind"] = "logistic".into()),
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut t = v.clone();
            f(&mut t);
            assert!(
                Model::from_json(&t.to_string()).is_err(),
                "case {i} accepted"
            );
        }
        v["privacy"] = serde_json::Value::Null;
        assert!(Model::from_json(&v.to_string()).unwrap().privacy.is_none());
    }
}
