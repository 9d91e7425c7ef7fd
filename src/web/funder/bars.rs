//! Horizontal bar charts of the funder's view (one measure per group), drawn on the server as
//! SVG like `chart`: pure geometry, the template only places it. Each label sits on its own
//! line above its bar, so that a narrow screen (the drawing scales down to 320 px) keeps it
//! readable; the table that follows every chart holds the full names and all the figures.

pub struct HBar {
    pub label: String,
    /// Baseline of the label's text, top of the bar.
    pub label_y: i64,
    pub bar_y: i64,
    pub width: i64,
    /// The value as written at the bar's end, and where.
    pub value: String,
    pub value_x: i64,
}

pub struct HBars {
    /// Unique on the page: names the SVG's title and description.
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub bar_height: i64,
    pub fill: &'static str,
    pub bars: Vec<HBar>,
}

pub const FILL: &str = "#0b3f8a";
pub const MONEY_FILL: &str = "#b34000";

/// In the SVG's own units: 400 wide, drawn at most at its size and shrunk on a phone.
const WIDTH: i64 = 400;
const LEFT: i64 = 4;
/// Room kept right of the longest bar for its value.
const VALUE_ROOM: i64 = 110;
const LINE: i64 = 20;
const BAR: i64 = 18;
const GAP: i64 = 10;
/// Longer names are cut in the drawing (the table has them whole).
const MAX_LABEL: usize = 40;
/// The chart shows the largest groups; the table all of them.
pub const MAX_BARS: usize = 15;

/// The chart of `(label, value, value as text)`, or none when there is nothing to draw.
pub(super) fn hbars(
    id: &'static str,
    title: String,
    unit: &str,
    fill: &'static str,
    items: &[(String, i64, String)],
) -> Option<HBars> {
    if items.iter().all(|(_, v, _)| *v <= 0) {
        return None;
    }
    let shown = &items[..items.len().min(MAX_BARS)];
    let highest = shown.iter().map(|(_, v, _)| *v).max().unwrap_or(1).max(1);
    let room = WIDTH - LEFT - VALUE_ROOM;
    let mut y = 0;
    let mut bars = Vec::new();
    for (label, value, text) in shown {
        let width = if *value > 0 {
            (value * room / highest).max(2)
        } else {
            0
        };
        let label_y = y + LINE - 4;
        let bar_y = y + LINE;
        bars.push(HBar {
            label: cut(label),
            label_y,
            bar_y,
            width,
            value: text.clone(),
            value_x: LEFT + width + 6,
        });
        y = bar_y + BAR + GAP;
    }
    let more = if items.len() > shown.len() {
        format!(
            "Les {} premiers sur {}, en {unit}. ",
            shown.len(),
            items.len()
        )
    } else {
        format!("En {unit}. ")
    };
    let listed: Vec<String> = shown
        .iter()
        .take(3)
        .map(|(label, _, text)| format!("{label} : {text}"))
        .collect();
    Some(HBars {
        id,
        desc: format!(
            "{more}{}{}. Le détail est dans le tableau qui suit.",
            listed.join(" ; "),
            if shown.len() > 3 { " ; …" } else { "" }
        ),
        title,
        width: WIDTH,
        height: y,
        left: LEFT,
        bar_height: BAR,
        fill,
        bars,
    })
}

fn cut(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL {
        label.to_string()
    } else {
        let kept: String = label.chars().take(MAX_LABEL - 1).collect();
        format!("{}…", kept.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(label: &str, v: i64) -> (String, i64, String) {
        (label.into(), v, v.to_string())
    }

    #[test]
    fn geometry() {
        assert!(hbars("x", "T".into(), "personnes", FILL, &[item("a", 0)]).is_none());
        let c = hbars(
            "x",
            "T".into(),
            "personnes",
            FILL,
            &[item("Lieu A", 10), item("Lieu B", 5), item("Lieu C", 0)],
        )
        .expect("chart");
        assert_eq!(c.bars[0].width, 400 - 4 - 110);
        assert_eq!(c.bars[1].width, (400 - 4 - 110) / 2);
        assert_eq!(c.bars[2].width, 0);
        assert_eq!(c.bars[1].bar_y, c.bars[0].bar_y + 20 + 18 + 10);
        assert_eq!(c.height, 3 * 48);
        assert_eq!(
            c.desc,
            "En personnes. Lieu A : 10 ; Lieu B : 5 ; Lieu C : 0. Le détail est dans le tableau qui suit."
        );
        let long = "x".repeat(60);
        assert_eq!(cut(&long).chars().count(), 40);
        let many: Vec<_> = (0..20).map(|i| item(&format!("L{i}"), 20 - i)).collect();
        let c = hbars("x", "T".into(), "séances", FILL, &many).expect("chart");
        assert_eq!(c.bars.len(), 15);
        assert!(c.desc.starts_with("Les 15 premiers sur 20, en séances. "));
    }
}
