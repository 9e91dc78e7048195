//! Errors of the data layer.

use thiserror::Error;

/// What is wrong with a data file or a data request. Line numbers count the header as
/// line 1, as an editor shows them.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum DataError {
    /// The file cannot be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        message: String,
    },
    /// The file has no header, or a header and no rows.
    #[error("empty data: {0}")]
    Empty(String),
    /// A column asked for (the label or a feature) is not in the header.
    #[error("no column {name:?} in the header (columns: {available})")]
    MissingColumn {
        /// The column asked for.
        name: String,
        /// The header's columns, comma-separated.
        available: String,
    },
    /// A column name appears twice (in the header or in the feature list).
    #[error("column {0:?} appears twice")]
    DuplicateColumn(String),
    /// A cell is not a number.
    #[error("line {line}, column {column:?}: {value:?} is not a number")]
    NonNumeric {
        /// The line (header = 1).
        line: u64,
        /// The column name.
        column: String,
        /// The cell.
        value: String,
    },
    /// A cell is NaN or infinite.
    #[error("line {line}, column {column:?}: {value} is not a finite number")]
    NotFinite {
        /// The line (header = 1).
        line: u64,
        /// The column name.
        column: String,
        /// The cell.
        value: String,
    },
    /// A row has a different number of cells than the header.
    #[error("line {line}: {found} cells, the header has {expected}")]
    RaggedRow {
        /// The line (header = 1).
        line: u64,
        /// Cells in the header.
        expected: usize,
        /// Cells in this row.
        found: usize,
    },
    /// The CSV is malformed (bad quoting, invalid UTF-8).
    #[error("line {line}: malformed CSV: {message}")]
    Malformed {
        /// The line (header = 1).
        line: u64,
        /// What the parser said.
        message: String,
    },
    /// Every row has the same label: nothing to learn.
    #[error(
        "the label column {column:?} holds one class only ({value}); a classifier needs two or more"
    )]
    OneClass {
        /// The label column.
        column: String,
        /// The only label value.
        value: f64,
    },
    /// More distinct labels than a classifier here supports.
    #[error("the label column {column:?} holds more than {max} distinct values")]
    TooManyClasses {
        /// The label column.
        column: String,
        /// The limit.
        max: usize,
    },
    /// A parameter out of its domain (sizes, bounds).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Features or labels that do not match what a model or scaler expects.
    #[error("shape mismatch: {0}")]
    Shape(String),
}
