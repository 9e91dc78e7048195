//! Reading PSI sets from files: one identifier per line, or a column of a CSV with a
//! header row, with optional normalization and deduplication.

use std::collections::HashMap;
use std::io::Read;

use super::error::PsiError;

/// How identifiers are normalized before hashing (both sides must use the same options).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Normalize {
    /// Strip leading and trailing whitespace.
    pub trim: bool,
    /// Lowercase (Unicode).
    pub lowercase: bool,
}

impl Normalize {
    fn apply(&self, s: &str) -> String {
        let s = if self.trim { s.trim() } else { s };
        if self.lowercase {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    }
}

/// A set read from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSet {
    /// Distinct identifiers, in first-seen order.
    pub elements: Vec<Vec<u8>>,
    /// One value per element, if a values column was read.
    pub values: Option<Vec<u64>>,
    /// Repeated identifiers dropped (each had the same value as its first occurrence).
    pub duplicates: usize,
    /// Empty identifiers skipped.
    pub empty: usize,
}

/// Reads one identifier per line (UTF-8; a final newline and `\r` line ends are ignored).
///
/// # Errors
/// [`PsiError::InvalidInput`] if the input is not UTF-8 or cannot be read.
pub fn read_lines<R: Read>(mut reader: R, norm: Normalize) -> Result<InputSet, PsiError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| PsiError::InvalidInput(format!("cannot read the input as UTF-8 text: {e}")))?;
    let mut ids = Vec::new();
    let mut empty = 0;
    for line in text.lines() {
        let id = norm.apply(line.strip_suffix('\r').unwrap_or(line));
        if id.is_empty() {
            empty += 1;
        } else {
            ids.push((id.into_bytes(), None));
        }
    }
    let mut set = dedup(ids)?;
    set.empty = empty;
    Ok(set)
}

/// Reads a CSV with a header row: identifiers from `id_column` (default: the first
/// column) and, if given, non-negative integer values from `values_column`.
///
/// # Errors
/// [`PsiError::InvalidInput`] naming the line for a missing column, a ragged row, a value
/// that is not a non-negative 64-bit integer, or a repeated identifier with another value.
pub fn read_csv<R: Read>(
    reader: R,
    id_column: Option<&str>,
    values_column: Option<&str>,
    norm: Normalize,
) -> Result<InputSet, PsiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| PsiError::InvalidInput(format!("cannot read the CSV header: {e}")))?
        .clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                PsiError::InvalidInput(format!(
                    "no column {name:?} in the CSV header (columns: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })
    };
    if headers.is_empty() {
        return Err(PsiError::InvalidInput("the CSV has no header row".into()));
    }
    let id_idx = match id_column {
        Some(c) => find(c)?,
        None => 0,
    };
    let val_idx = values_column.map(find).transpose()?;
    let mut ids = Vec::new();
    let mut empty = 0;
    for (row, rec) in rdr.records().enumerate() {
        let line = row + 2;
        let rec = rec.map_err(|e| PsiError::InvalidInput(format!("CSV line {line}: {e}")))?;
        let id = norm.apply(rec.get(id_idx).unwrap_or(""));
        let value = match val_idx {
            Some(v) => {
                let raw = rec.get(v).unwrap_or("").trim();
                Some(raw.parse::<u64>().map_err(|_| {
                    PsiError::InvalidInput(format!(
                        "CSV line {line}: value {raw:?} is not a non-negative integer below 2^64"
                    ))
                })?)
            }
            None => None,
        };
        if id.is_empty() {
            empty += 1;
            continue;
        }
        ids.push((id.into_bytes(), value));
    }
    let mut set = dedup(ids)?;
    set.empty = empty;
    Ok(set)
}

/// Drops repeated identifiers, keeping the first; a repeat with a different value is an
/// error (there is no right value to keep).
///
/// # Errors
/// [`PsiError::InvalidInput`] for a repeated identifier with two values.
pub fn dedup(items: Vec<(Vec<u8>, Option<u64>)>) -> Result<InputSet, PsiError> {
    let with_values = items.first().is_some_and(|(_, v)| v.is_some());
    let mut first: HashMap<Vec<u8>, Option<u64>> = HashMap::with_capacity(items.len());
    let mut elements = Vec::with_capacity(items.len());
    let mut values = Vec::new();
    let mut duplicates = 0;
    for (id, v) in items {
        match first.get(&id) {
            Some(prev) if *prev == v => duplicates += 1,
            Some(prev) => {
                return Err(PsiError::InvalidInput(format!(
                    "identifier {:?} appears twice with different values ({} and {})",
                    String::from_utf8_lossy(&id),
                    prev.map_or("none".into(), |x| x.to_string()),
                    v.map_or("none".into(), |x| x.to_string())
                )));
            }
            None => {
                first.insert(id.clone(), v);
                elements.push(id);
                if let Some(v) = v {
                    values.push(v);
                }
            }
        }
    }
    Ok(InputSet {
        elements,
        values: with_values.then_some(values),
        duplicates,
        empty: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_normalize_and_dedup() {
        let s = read_lines(
            " A\r\nb\n\na \n".as_bytes(),
            Normalize {
                trim: true,
                lowercase: true,
            },
        )
        .unwrap();
        assert_eq!(s.elements, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!((s.duplicates, s.empty), (1, 1));
        let raw = read_lines(" A\nA\n".as_bytes(), Normalize::default()).unwrap();
        assert_eq!(raw.elements, vec![b" A".to_vec(), b"A".to_vec()]);
    }

    #[test]
    fn csv_columns_values_and_errors() {
        let csv = "id,visits\nx,3\ny,4\nx,3\n";
        let s = read_csv(
            csv.as_bytes(),
            Some("id"),
            Some("visits"),
            Normalize::default(),
        )
        .unwrap();
        assert_eq!(s.values, Some(vec![3, 4]));
        assert_eq!(s.duplicates, 1);
        let e = read_csv(
            "id,v\nx,-1\n".as_bytes(),
            None,
            Some("v"),
            Normalize::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = read_csv(
            "id,v\nx,1\nx,2\n".as_bytes(),
            None,
            Some("v"),
            Normalize::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("different values"), "{e}");
        let e = read_csv(
            "id,v\nx,1\n".as_bytes(),
            Some("nope"),
            None,
            Normalize::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no column"), "{e}");
        let e = read_csv("id,v\nx,1,9\n".as_bytes(), None, None, Normalize::default()).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
