//! A labelled tabular data set and its CSV form: a header, one row per example, numeric
//! cells. Every defect is reported with the line it is on (the header is line 1).
//!
//! ```
//! use shroud::data::{Dataset, DataError};
//! let d = Dataset::from_csv_str("a,b,y\n1,2,0\n3,4,1\n", "y", None).unwrap();
//! assert_eq!((d.len(), d.n_features(), d.n_classes()), (2, 2, 2));
//! let e = Dataset::from_csv_str("a,y\n1,0\nx,1\n", "y", None).unwrap_err();
//! assert!(matches!(e, DataError::NonNumeric { line: 3, .. }));
//! ```

use std::path::Path;

use super::DataError;

/// Most distinct label values accepted.
pub const MAX_CLASSES: usize = 1000;

/// Features (row-major, `len() x n_features()`) and class indices.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    feature_names: Vec<String>,
    label_name: String,
    x: Vec<f64>,
    y: Vec<usize>,
    classes: Vec<f64>,
}

impl Dataset {
    /// A data set from rows of features and label values.
    ///
    /// # Errors
    /// [`DataError::Shape`] when the sizes disagree, [`DataError::NotFinite`] for NaN or
    /// infinite values (line = row index + 2, as in a CSV with a header),
    /// [`DataError::Empty`], [`DataError::OneClass`], [`DataError::TooManyClasses`].
    pub fn new(
        feature_names: Vec<String>,
        label_name: &str,
        x: Vec<f64>,
        labels: &[f64],
    ) -> Result<Self, DataError> {
        let d = feature_names.len();
        if d == 0 {
            return Err(DataError::Shape("no features".into()));
        }
        if x.len() != d * labels.len() {
            return Err(DataError::Shape(format!(
                "{} feature values for {} rows of {d} features",
                x.len(),
                labels.len()
            )));
        }
        if labels.is_empty() {
            return Err(DataError::Empty("no rows".into()));
        }
        for (i, v) in x.iter().enumerate() {
            if !v.is_finite() {
                return Err(DataError::NotFinite {
                    line: (i / d) as u64 + 2,
                    column: feature_names[i % d].clone(),
                    value: v.to_string(),
                });
            }
        }
        let (y, classes) = index_labels(label_name, labels, |i| i as u64 + 2)?;
        Ok(Dataset {
            feature_names,
            label_name: label_name.into(),
            x,
            y,
            classes,
        })
    }

    /// A data set whose parts the caller has checked (finite features, labels indexing
    /// `classes`).
    pub(crate) fn from_parts(
        feature_names: Vec<String>,
        label_name: &str,
        x: Vec<f64>,
        y: Vec<usize>,
        classes: Vec<f64>,
    ) -> Self {
        debug_assert_eq!(x.len(), feature_names.len() * y.len());
        Dataset {
            feature_names,
            label_name: label_name.into(),
            x,
            y,
            classes,
        }
    }

    /// Reads a CSV file; see [`Dataset::from_csv_str`].
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be read, and those of
    /// [`Dataset::from_csv_str`].
    pub fn from_csv_path(
        path: &Path,
        label: &str,
        features: Option<&[String]>,
    ) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_csv_str(&text, label, features)
    }

    /// Parses CSV text with a header. The label column holds numbers (each distinct value is
    /// a class, classes sorted ascending); `features` selects and orders the feature columns
    /// (default: every column but the label, in header order).
    ///
    /// # Errors
    /// [`DataError::Empty`], [`DataError::MissingColumn`], [`DataError::DuplicateColumn`],
    /// [`DataError::NonNumeric`], [`DataError::NotFinite`], [`DataError::RaggedRow`],
    /// [`DataError::Malformed`], [`DataError::OneClass`], [`DataError::TooManyClasses`].
    pub fn from_csv_str(
        text: &str,
        label: &str,
        features: Option<&[String]>,
    ) -> Result<Self, DataError> {
        let mut rdr = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(text.as_bytes());
        let malformed = |e: ::csv::Error| DataError::Malformed {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        };
        let header: Vec<String> = rdr
            .headers()
            .map_err(malformed)?
            .iter()
            .map(str::to_owned)
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(DataError::Empty("no header".into()));
        }
        for (i, h) in header.iter().enumerate() {
            if header[..i].contains(h) {
                return Err(DataError::DuplicateColumn(h.clone()));
            }
        }
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| DataError::MissingColumn {
                    name: name.into(),
                    available: header.join(","),
                })
        };
        let label_col = find(label)?;
        let feature_cols: Vec<usize> = match features {
            Some(list) => {
                for (i, f) in list.iter().enumerate() {
                    if list[..i].contains(f) {
                        return Err(DataError::DuplicateColumn(f.clone()));
                    }
                    if f == label {
                        return Err(DataError::InvalidParameter(format!(
                            "the label {label:?} cannot also be a feature"
                        )));
                    }
                }
                list.iter().map(|f| find(f)).collect::<Result<_, _>>()?
            }
            None => (0..header.len()).filter(|&c| c != label_col).collect(),
        };
        if feature_cols.is_empty() {
            return Err(DataError::InvalidParameter(
                "no feature columns besides the label".into(),
            ));
        }
        let mut x = Vec::new();
        let mut labels = Vec::new();
        let mut lines = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(malformed)?;
            let line = rec.position().map_or(0, |p| p.line());
            if rec.len() == 1 && rec[0].is_empty() {
                continue; // a blank line
            }
            if rec.len() != header.len() {
                return Err(DataError::RaggedRow {
                    line,
                    expected: header.len(),
                    found: rec.len(),
                });
            }
            let cell = |c: usize| number(&rec[c], line, &header[c]);
            labels.push(cell(label_col)?);
            for &c in &feature_cols {
                x.push(cell(c)?);
            }
            lines.push(line);
        }
        if labels.is_empty() {
            return Err(DataError::Empty("a header and no rows".into()));
        }
        let (y, classes) = index_labels(label, &labels, |i| lines[i])?;
        Ok(Dataset {
            feature_names: feature_cols.iter().map(|&c| header[c].clone()).collect(),
            label_name: label.into(),
            x,
            y,
            classes,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no rows (never, for a constructed data set).
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Feature names in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The label column's name.
    pub fn label_name(&self) -> &str {
        &self.label_name
    }

    /// Features, row-major.
    pub fn features(&self) -> &[f64] {
        &self.x
    }

    /// Row `i`'s features.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.n_features();
        &self.x[i * d..(i + 1) * d]
    }

    /// Class indices (into [`Dataset::classes`]).
    pub fn labels(&self) -> &[usize] {
        &self.y
    }

    /// The label value of each class, ascending.
    pub fn classes(&self) -> &[f64] {
        &self.classes
    }

    /// The same rows with features replaced (after scaling).
    ///
    /// # Errors
    /// [`DataError::Shape`] for a wrong length, [`DataError::NotFinite`].
    pub fn with_features(&self, x: Vec<f64>) -> Result<Self, DataError> {
        if x.len() != self.x.len() {
            return Err(DataError::Shape("feature matrix size changed".into()));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            let d = self.n_features();
            return Err(DataError::NotFinite {
                line: (i / d) as u64 + 2,
                column: self.feature_names[i % d].clone(),
                value: x[i].to_string(),
            });
        }
        Ok(Dataset { x, ..self.clone() })
    }

    /// The rows at `rows` (in that order, repeats allowed), keeping the class list, so a
    /// subset that lacks a class still indexes labels as the whole set does.
    ///
    /// # Errors
    /// [`DataError::Shape`] for a row index out of range; [`DataError::Empty`] for none.
    pub fn select(&self, rows: &[usize]) -> Result<Self, DataError> {
        if rows.is_empty() {
            return Err(DataError::Empty("no rows selected".into()));
        }
        let d = self.n_features();
        let mut x = Vec::with_capacity(rows.len() * d);
        let mut y = Vec::with_capacity(rows.len());
        for &i in rows {
            if i >= self.len() {
                return Err(DataError::Shape(format!(
                    "row {i} selected from {} rows",
                    self.len()
                )));
            }
            x.extend_from_slice(self.row(i));
            y.push(self.y[i]);
        }
        Ok(Dataset {
            feature_names: self.feature_names.clone(),
            label_name: self.label_name.clone(),
            x,
            y,
            classes: self.classes.clone(),
        })
    }

    /// Writes the CSV form: the features, then the label column (label values as given).
    pub fn to_csv(&self) -> String {
        let mut s = self.feature_names.join(",");
        s.push(',');
        s.push_str(&self.label_name);
        s.push('\n');
        for i in 0..self.len() {
            for v in self.row(i) {
                s.push_str(&v.to_string());
                s.push(',');
            }
            s.push_str(&self.classes[self.y[i]].to_string());
            s.push('\n');
        }
        s
    }
}

fn number(cell: &str, line: u64, column: &str) -> Result<f64, DataError> {
    let v: f64 = cell.parse().map_err(|_| DataError::NonNumeric {
        line,
        column: column.into(),
        value: cell.into(),
    })?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(DataError::NotFinite {
            line,
            column: column.into(),
            value: cell.into(),
        })
    }
}

/// Maps label values to class indices (classes sorted ascending).
fn index_labels(
    column: &str,
    labels: &[f64],
    line_of: impl Fn(usize) -> u64,
) -> Result<(Vec<usize>, Vec<f64>), DataError> {
    if let Some(i) = labels.iter().position(|v| !v.is_finite()) {
        return Err(DataError::NotFinite {
            line: line_of(i),
            column: column.into(),
            value: labels[i].to_string(),
        });
    }
    let mut classes: Vec<f64> = labels.to_vec();
    classes.sort_by(f64::total_cmp);
    classes.dedup();
    if classes.len() > MAX_CLASSES {
        return Err(DataError::TooManyClasses {
            column: column.into(),
            max: MAX_CLASSES,
        });
    }
    if classes.len() < 2 {
        return Err(DataError::OneClass {
            column: column.into(),
            value: classes[0],
        });
    }
    let y = labels
        .iter()
        // every label is in `classes` by construction
        .map(|v| classes.partition_point(|c| c < v))
        .collect();
    Ok((y, classes))
}
