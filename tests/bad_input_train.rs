//! Bad training data: every defect is refused with the line it is on.

use shroud::data::{DataError, Dataset};

fn load(text: &str) -> Result<Dataset, DataError> {
    Dataset::from_csv_str(text, "y", None)
}

#[test]
fn missing_label_column() {
    let e = load("a,b\n1,2\n").unwrap_err();
    assert!(
        matches!(&e, DataError::MissingColumn { name, available } if name == "y" && available == "a,b"),
        "{e:?}"
    );
}

#[test]
fn missing_feature_column() {
    let f = vec!["a".to_owned(), "zz".to_owned()];
    let e = Dataset::from_csv_str("a,y\n1,0\n2,1\n", "y", Some(&f)).unwrap_err();
    assert!(
        matches!(&e, DataError::MissingColumn { name, .. } if name == "zz"),
        "{e:?}"
    );
}

#[test]
fn non_numeric_cell_with_its_line() {
    let e = load("a,y\n1,0\n2,1\nabc,0\n").unwrap_err();
    assert_eq!(
        e,
        DataError::NonNumeric {
            line: 4,
            column: "a".into(),
            value: "abc".into()
        }
    );
    assert!(e.to_string().contains("line 4"));
}

#[test]
fn non_numeric_label_with_its_line() {
    let e = load("a,y\n1,0\n2,yes\n").unwrap_err();
    assert!(matches!(e, DataError::NonNumeric { line: 3, ref column, .. } if column == "y"));
}

#[test]
fn nan_and_infinity_with_their_lines() {
    let e = load("a,y\n1,0\nNaN,1\n").unwrap_err();
    assert!(matches!(e, DataError::NotFinite { line: 3, .. }), "{e:?}");
    let e = load("a,y\n1,0\n2,1\n3,inf\n").unwrap_err();
    assert!(matches!(e, DataError::NotFinite { line: 4, .. }), "{e:?}");
}

#[test]
fn empty_file_and_header_only() {
    assert!(matches!(load("").unwrap_err(), DataError::Empty(_)));
    assert!(matches!(load("a,y\n").unwrap_err(), DataError::Empty(_)));
}

#[test]
fn one_class_only() {
    let e = load("a,y\n1,1\n2,1\n3,1\n").unwrap_err();
    assert!(
        matches!(e, DataError::OneClass { value, .. } if value == 1.0),
        "{e:?}"
    );
}

#[test]
fn ragged_row_with_its_line() {
    let e = load("a,b,y\n1,2,0\n1,1\n").unwrap_err();
    assert_eq!(
        e,
        DataError::RaggedRow {
            line: 3,
            expected: 3,
            found: 2
        }
    );
}

#[test]
fn duplicate_columns() {
    assert!(matches!(
        load("a,a,y\n1,2,0\n").unwrap_err(),
        DataError::DuplicateColumn(_)
    ));
}

#[test]
fn label_cannot_be_a_feature() {
    let f = vec!["y".to_owned()];
    assert!(matches!(
        Dataset::from_csv_str("a,y\n1,0\n2,1\n", "y", Some(&f)).unwrap_err(),
        DataError::InvalidParameter(_)
    ));
}

#[test]
fn feature_selection_orders_columns() {
    let f = vec!["c".to_owned(), "a".to_owned()];
    let d = Dataset::from_csv_str("a,b,c,y\n1,2,3,0\n4,5,6,1\n", "y", Some(&f)).unwrap();
    assert_eq!(d.feature_names(), ["c", "a"]);
    assert_eq!(d.features(), [3.0, 1.0, 6.0, 4.0]);
    assert_eq!(d.labels(), [0, 1]);
}

#[test]
fn missing_file_is_an_io_error() {
    let e =
        Dataset::from_csv_path(std::path::Path::new("/nonexistent/x.csv"), "y", None).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
}
