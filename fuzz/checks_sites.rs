//! What the `sites_csv` target checks, shared by the libFuzzer target and by the replay of saved
//! inputs in the normal test suite (tests/fuzz_regressions.rs). Both crates have the module
//! under test at their root as `standard`.

use crate::spreadsheet::safe_cell;
use crate::standard::{check, parse_csv, write_csv, StandardPlace, FIELDS};

/// Target `sites_csv`: a file someone uploads as places in the national standard. Never a
/// panic; every place let in passes the standard's checks; every row is either let in or
/// rejected with a reason and a line; and what is let in, written back out, reads back the same
/// (but for a leading `'` before any value a spreadsheet would run as a formula).
pub fn sites_csv(data: &[u8]) {
    let parsed = parse_csv(data);
    for place in &parsed.places {
        let problems = check(place);
        assert!(problems.is_empty(), "accepted with problems: {problems:?}");
    }
    // Line 1 is the header: its rejections are about the whole file, not a row.
    let mut rejected_lines: Vec<u64> = parsed
        .rejections
        .iter()
        .map(|r| r.line)
        .filter(|line| *line != 1)
        .collect();
    rejected_lines.dedup();
    assert!(
        parsed.places.len() + rejected_lines.len() <= parsed.rows,
        "more outcomes ({} in, {} out) than rows ({})",
        parsed.places.len(),
        rejected_lines.len(),
        parsed.rows
    );
    for rejection in &parsed.rejections {
        assert!(rejection.line >= 1, "rejection without a line");
        assert!(!rejection.reason.is_empty(), "rejection without a reason");
    }
    let written = write_csv(&parsed.places).expect("accepted places can be written");
    let again = parse_csv(&written);
    assert!(
        again.rejections.is_empty(),
        "an export of accepted places is refused: {:?}",
        again.rejections
    );
    let exported: Vec<StandardPlace> = parsed.places.iter().map(as_exported).collect();
    assert_eq!(again.places, exported, "export and re-import differ");
}

/// A place as the export writes it: each value made harmless for spreadsheets.
fn as_exported(place: &StandardPlace) -> StandardPlace {
    let mut out = StandardPlace::new();
    for (field, value) in FIELDS.iter().zip(place.values()) {
        out.set(field, value.map(|v| safe_cell(v)).as_deref());
    }
    out
}
