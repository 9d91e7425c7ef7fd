//! What the `camt` target checks, shared by the libFuzzer target and by the replay of saved
//! inputs in the normal test suite (tests/it/fuzz_regressions.rs). Both crates have the module
//! under test at their root as `camt`.
//!
//! A bank statement (camt.053.001.08) as the treasury imports it: never a panic, a refusal is
//! one French sentence, and whatever is let in is schema-valid with amounts that are positive,
//! whole cents within the schema's 18 digits, real dates and entries numbered in order.

use crate::camt;

/// Below 10^18 cents: the schema allows 18 digits, of which we keep 2 decimals.
const MAX_CENTS: i64 = 999_999_999_999_999_999;

pub fn camt(data: &[u8]) {
    let parsed = camt::parse(data);
    let valid = camt::validate(data);
    match (&parsed, &valid) {
        (Ok(_), Err(e)) => panic!("parsed but not schema-valid: {e}"),
        (Err(p), Err(v)) => assert_eq!(p, v, "parse and validate refuse for different reasons"),
        _ => {}
    }
    let doc = match parsed {
        Err(e) => {
            let reason = &e.reason;
            assert!(!reason.trim().is_empty(), "refusal without a reason");
            assert!(!reason.contains('\n'), "refusal on several lines: {reason}");
            assert!(reason.ends_with('.'), "refusal is not a sentence: {reason}");
            return;
        }
        Ok(doc) => doc,
    };
    assert!(!doc.message_id.is_empty() && doc.message_id.chars().count() <= 35);
    assert!(doc.created_at.len() >= 19, "CreDtTm {:?}", doc.created_at);
    assert!(
        !doc.statements.is_empty(),
        "a statement file without a statement"
    );
    for stmt in &doc.statements {
        assert!(!stmt.id.is_empty());
        for balance in stmt.opening.iter().chain(&stmt.closing) {
            assert!(
                (-MAX_CENTS..=MAX_CENTS).contains(&balance.cents),
                "balance {balance:?}"
            );
            assert_date(&balance.date);
            assert_currency(&balance.currency);
        }
        for (i, entry) in stmt.entries.iter().enumerate() {
            assert_eq!(entry.index, i + 1, "entries out of order");
            assert!(
                (1..=MAX_CENTS).contains(&entry.cents),
                "entry amount {}",
                entry.cents
            );
            assert_currency(&entry.currency);
            assert!(!entry.status.is_empty() && entry.status.chars().count() <= 35);
            for date in entry.booking_date.iter().chain(&entry.value_date) {
                assert_date(date);
            }
            if let Some((domain, family, sub)) = &entry.bank_code {
                for code in [domain, family, sub] {
                    assert!(
                        (1..=4).contains(&code.chars().count()),
                        "bank code {code:?}"
                    );
                }
            }
            for tx in &entry.transactions {
                if let Some(cents) = tx.cents {
                    assert!(
                        (1..=MAX_CENTS).contains(&cents),
                        "transaction amount {cents}"
                    );
                }
                assert_ne!(tx.end_to_end_id.as_deref(), Some("NOTPROVIDED"));
                for id in [
                    &tx.message_id,
                    &tx.payment_info_id,
                    &tx.instruction_id,
                    &tx.end_to_end_id,
                ]
                .into_iter()
                .flatten()
                {
                    assert!(
                        id.chars().count() <= 35,
                        "identifier longer than the schema allows: {id}"
                    );
                }
            }
        }
    }
    // Reading is deterministic.
    assert_eq!(camt::parse(data).as_ref(), Ok(&doc));
}

fn assert_currency(code: &str) {
    assert!(
        code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
        "currency {code:?}"
    );
}

/// YYYY-MM-DD and a day that exists, checked independently of the module.
fn assert_date(date: &str) {
    let b = date.as_bytes();
    assert!(
        date.len() == 10 && b[4] == b'-' && b[7] == b'-',
        "date {date:?}"
    );
    let number = |s: &str| s.parse::<u32>().unwrap_or_else(|_| panic!("date {date:?}"));
    let (year, month, day) = (number(&date[..4]), number(&date[5..7]), number(&date[8..]));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    assert!(year > 0 && (1..=12).contains(&month), "date {date:?}");
    assert!(day >= 1 && day <= days[month as usize - 1], "date {date:?}");
}
