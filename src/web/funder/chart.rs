//! The chart: cheques issued and redeemed per month, drawn on the server as SVG so that it
//! needs no JavaScript. Pure geometry: the template only places what is computed here.

use super::cheque_count;
use crate::stats::{self, Month};

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub fill: &'static str,
    pub tip: String,
}

pub struct Tick {
    pub y: i64,
    pub label: i64,
}

pub struct MonthMark {
    pub x: i64,
    pub month: &'static str,
    pub year: String,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    /// Left and right ends of the plot, and its baseline.
    pub left: i64,
    pub right: i64,
    pub base: i64,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
    pub marks: Vec<MonthMark>,
    pub desc: String,
}

pub const ISSUED_FILL: &str = "#0b3f8a";
pub const REDEEMED_FILL: &str = "#b34000";

const SHORT_MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// The smallest of 1, 2, 5, 10, 20, 50… that is at least `target`.
fn nice_step(target: i64) -> i64 {
    let mut magnitude = 1;
    loop {
        for m in [1, 2, 5] {
            if m * magnitude >= target {
                return m * magnitude;
            }
        }
        magnitude *= 10;
    }
}

/// The chart of these months, or nothing before the programme's first activity.
pub(super) fn chart(months: &[Month]) -> Option<Chart> {
    let (first, last) = (months.first()?, months.last()?);
    // In the SVG's own units: the drawing scales down to the page's width, so each month gets
    // at least GROUP units however many there are.
    const LEFT: i64 = 56;
    const RIGHT_MARGIN: i64 = 12;
    const TOP: i64 = 14;
    const PLOT_HEIGHT: i64 = 200;
    const GROUP: i64 = 72;
    const BAR: i64 = 24;
    let n = months.len() as i64;
    // A few months still fill a chart of a readable size.
    let group = GROUP.max(360 / n);
    let width = LEFT + RIGHT_MARGIN + n * group;
    let base = TOP + PLOT_HEIGHT;
    let highest = months
        .iter()
        .map(|m| m.issued_cheques.max(m.redeemed_cheques))
        .max()
        .unwrap_or(0);
    let step = nice_step(((highest + 3) / 4).max(1));
    let top_value = step * 4;
    let y_of = |v: i64| base - v * PLOT_HEIGHT / top_value;
    let ticks = (0..=4)
        .map(|i| Tick {
            y: y_of(i * step),
            label: i * step,
        })
        .collect();
    let mut bars = Vec::new();
    let mut marks = Vec::new();
    for (i, m) in months.iter().enumerate() {
        let centre = LEFT + i as i64 * group + group / 2;
        let label = stats::month_label(&m.month);
        for (x, v, fill, what) in [
            (centre - BAR - 1, m.issued_cheques, ISSUED_FILL, "émis"),
            (centre + 1, m.redeemed_cheques, REDEEMED_FILL, "utilisé"),
        ] {
            // A small count stays visible as a sliver rather than vanishing.
            let height = if v > 0 { (base - y_of(v)).max(2) } else { 0 };
            bars.push(Bar {
                x,
                y: base - height,
                width: BAR,
                height,
                fill,
                tip: format!("{label} : {}", cheque_count(v, what)),
            });
        }
        let (year, month) = m.month.split_once('-').unwrap_or((&m.month, ""));
        marks.push(MonthMark {
            x: centre,
            month: month
                .parse::<usize>()
                .ok()
                .and_then(|i| SHORT_MONTHS.get(i.wrapping_sub(1)))
                .copied()
                .unwrap_or(""),
            year: year.to_string(),
        });
    }
    let issued: i64 = months.iter().map(|m| m.issued_cheques).sum();
    let redeemed: i64 = months.iter().map(|m| m.redeemed_cheques).sum();
    let span = if months.len() == 1 {
        format!("En {}", stats::month_label(&first.month))
    } else {
        format!(
            "De {} à {}",
            stats::month_label(&first.month),
            stats::month_label(&last.month)
        )
    };
    Some(Chart {
        width,
        height: base + 48,
        left: LEFT,
        right: width - RIGHT_MARGIN,
        base,
        ticks,
        bars,
        marks,
        desc: format!(
            "{span} : {} et {}. Le détail de chaque mois est dans le tableau qui suit.",
            cheque_count(issued, "émis"),
            cheque_count(redeemed, "utilisé"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(month: &str, issued: i64, redeemed: i64) -> Month {
        Month {
            month: month.into(),
            issued_cheques: issued,
            issued_cents: crate::money::Cents::euros(10) * issued,
            redeemed_cheques: redeemed,
            redeemed_cents: crate::money::Cents::euros(10) * redeemed,
        }
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(3), 5);
        assert_eq!(nice_step(11), 20);
        assert_eq!(nice_step(51), 100);
    }

    #[test]
    fn bars_and_axis() {
        assert!(chart(&[]).is_none());
        let c = chart(&[month("2026-01", 400, 0), month("2026-02", 15, 1)]).expect("chart");
        // Two months take at least 360 units between the margins.
        assert_eq!(c.width, 56 + 12 + 360);
        assert_eq!((c.left, c.right, c.base), (56, 416, 214));
        // 400 cheques at most: four steps of 100, the top one at the plot's top.
        let labels: Vec<i64> = c.ticks.iter().map(|t| t.label).collect();
        assert_eq!(labels, [0, 100, 200, 300, 400]);
        assert_eq!(c.ticks[4].y, 14);
        assert_eq!(c.bars.len(), 4);
        assert_eq!((c.bars[0].y, c.bars[0].height), (14, 200));
        // Nothing redeemed draws nothing; one cheque still shows as a sliver.
        assert_eq!(c.bars[1].height, 0);
        assert_eq!(c.bars[3].height, 2);
        assert!(c.bars.iter().all(|b| b.y + b.height == c.base));
        assert_eq!(c.bars[3].tip, "février 2026 : 1 chèque utilisé");
        assert_eq!(c.marks[1].month, "févr.");
        assert_eq!(c.marks[1].year, "2026");
        assert_eq!(
            c.desc,
            "De janvier 2026 à février 2026 : 415 chèques émis et 1 chèque utilisé. Le détail de chaque mois est dans le tableau qui suit."
        );
    }
}
