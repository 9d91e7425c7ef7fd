//! Printable carnets: a cover with the pass code and the helpline, then one tear-off block per
//! cheque with its QR code. Large type and black on white, for people with poor sight and for
//! cheap printers.

use super::fonts::{self, Font};
use super::qr;
use super::{Page, Writer, MM, PAGE_HEIGHT, PAGE_WIDTH};

pub struct CarnetCheque {
    /// Printed short code, e.g. "ABCD-EFGH-JK12".
    pub code: String,
    /// Upper-case alphanumeric and '.', so the QR code uses the compact alphanumeric mode.
    pub qr_payload: String,
    /// E.g. "10,00 €".
    pub value: String,
    /// E.g. "2 mars 2027".
    pub expires_on: String,
}

pub struct Carnet {
    /// The beneficiary checks the balance with it, e.g. "BPKW-8KAF-DSB2".
    pub pass_code: String,
    pub programme: String,
    /// Who handed it out.
    pub distributor: String,
    /// Where the cheques are accepted, in words ("Gironde (33)").
    pub accepted_in: String,
    /// 5 or 10.
    pub cheques: Vec<CarnetCheque>,
    pub helpline_phone: String,
    pub helpline_email: String,
    /// Where to check the balance and find a site, e.g. "https://passnum.example".
    pub public_url: String,
    /// The "Je donne mon avis" link.
    pub feedback_url: String,
}

const MARGIN_X: f32 = 12.0 * MM;
const MARGIN_Y: f32 = 10.0 * MM;
const BLOCK_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN_X;
/// Four tear-off blocks per page, about 69 mm high each.
const SLOTS: usize = 4;
const SLOT_HEIGHT: f32 = (PAGE_HEIGHT - 2.0 * MARGIN_Y) / SLOTS as f32;
const PAD: f32 = 5.0 * MM;
const QR_SIZE: f32 = 30.0 * MM;

/// One or many carnets in one PDF (distributors print in bulk: it must render 1,000 carnets of
/// 10 cheques in a few seconds, so build each QR image once per cheque and keep it lean).
pub fn carnets(carnets: &[Carnet]) -> Vec<u8> {
    let cheques: usize = carnets.iter().map(|c| c.cheques.len()).sum();
    let mut writer = Writer::with_capacity(8192 + carnets.len() * 6144 + cheques * 2048);
    for carnet in carnets {
        render(&mut writer, carnet);
    }
    let title = match carnets {
        [one] => format!("Carnet Pass numérique {}", one.pass_code),
        _ => "Carnets Pass numérique".to_owned(),
    };
    writer.finish(&title)
}

/// Every carnet starts on a fresh page so that bulk prints can be separated.
fn render(writer: &mut Writer, carnet: &Carnet) {
    let mut page = Page::new();
    let cover = cover(carnet);
    let cover_slots = ((cover.height() + 2.0 * PAD) / SLOT_HEIGHT).ceil() as usize;
    let cover_slots = cover_slots.clamp(1, SLOTS);
    cover.draw(
        &mut page,
        MARGIN_X + PAD,
        slot_top(0) - PAD,
        slot_top(cover_slots),
    );
    let mut slot = cover_slots;
    let total = carnet.cheques.len();
    for (index, cheque) in carnet.cheques.iter().enumerate() {
        if slot == SLOTS {
            writer.add_page(std::mem::replace(&mut page, Page::new()));
            slot = 0;
        }
        if slot > 0 {
            cut_line(&mut page, slot_top(slot));
        }
        let qr = qr::gray_image(&cheque.qr_payload)
            .map(|(side, samples)| writer.gray_image(side, side, &samples));
        cheque_block(
            &mut page,
            carnet,
            cheque,
            index + 1,
            total,
            qr,
            slot_top(slot),
        );
        slot += 1;
    }
    writer.add_page(page);
}

fn slot_top(slot: usize) -> f32 {
    PAGE_HEIGHT - MARGIN_Y - slot as f32 * SLOT_HEIGHT
}

fn cut_line(page: &mut Page, y: f32) {
    page.dashed_line(5.0 * MM, y, PAGE_WIDTH - 5.0 * MM, 0.6);
}

/// Phone numbers must not be split over two lines.
fn unbreakable(text: &str) -> String {
    text.replace(' ', "\u{a0}")
}

fn cover(carnet: &Carnet) -> Flow {
    let width = BLOCK_WIDTH - 2.0 * PAD;
    let phone = unbreakable(&carnet.helpline_phone);
    let url = carnet.public_url.trim_end_matches('/');
    let mut flow = Flow::default();
    flow.text(Font::Bold, 28.0, "Pass numérique", width);
    flow.text(Font::Bold, 17.0, &carnet.programme, width);
    flow.gap(10.0);
    flow.text(Font::Regular, 14.0, "Code de votre carnet\u{a0}:", width);
    flow.text(Font::Mono, 30.0, &carnet.pass_code, width);
    flow.gap(4.0);
    let balance = format!(
        "Pour savoir ce qu'il reste sur votre carnet\u{a0}: allez sur {url} et tapez ce code, \
         ou appelez le {phone}."
    );
    flow.text(Font::Regular, 14.0, &balance, width);
    flow.gap(6.0);
    let distributor = format!("Carnet remis par\u{a0}: {}", carnet.distributor);
    flow.text(Font::Regular, 14.0, &distributor, width);
    flow.gap(10.0);
    flow.text(Font::Bold, 15.0, "Besoin d'aide\u{a0}? Appelez le", width);
    flow.text(Font::Bold, 26.0, &phone, width);
    let email = format!("ou écrivez à {}", carnet.helpline_email);
    flow.text(Font::Regular, 14.0, &email, width);
    flow.gap(6.0);
    let sites = format!(
        "Chèques acceptés\u{a0}: {}. Trouvez un lieu près de chez vous sur {url}/lieux ou en \
         appelant le {phone}.",
        carnet.accepted_in
    );
    flow.text(Font::Regular, 14.0, &sites, width);
    flow.gap(6.0);
    let feedback = format!("Je donne mon avis\u{a0}: {}", carnet.feedback_url);
    flow.text(Font::Regular, 14.0, &feedback, width);
    flow
}

fn cheque_block(
    page: &mut Page,
    carnet: &Carnet,
    cheque: &CarnetCheque,
    number: usize,
    total: usize,
    qr: Option<pdf_writer::Ref>,
    top: f32,
) {
    let left = MARGIN_X + PAD;
    let right = MARGIN_X + BLOCK_WIDTH - PAD;
    let inner_top = top - PAD;

    let title = fonts::encode(&format!("Chèque {number}/{total}"));
    let title_baseline = inner_top - 14.0;
    page.text(Font::Bold, 18.0, left, title_baseline, &title);
    let value = fonts::encode(&cheque.value);
    page.text_right(Font::Bold, 26.0, right, inner_top - 16.0, &value);
    // The programme fills the room between the title and the value, shortened if need be.
    let programme_x = left + Font::Bold.width(&title, 18.0) + 12.0;
    let room = right - Font::Bold.width(&value, 26.0) - 16.0 - programme_x;
    let programme = fonts::encode(&carnet.programme);
    let programme = fonts::truncate(Font::Regular, 12.0, &programme, room);
    page.text(Font::Regular, 12.0, programme_x, title_baseline, &programme);

    let body_top = inner_top - 28.0;
    match qr {
        Some(image) => page.image(image, left, body_top - QR_SIZE, QR_SIZE, QR_SIZE),
        // Only a payload beyond the largest QR version gets here; the code still works by hand.
        None => {
            let note = b"QR code indisponible";
            page.text(Font::Regular, 10.0, left, body_top - 20.0, note);
        }
    }

    let column = left + QR_SIZE + 6.0 * MM;
    let width = right - column;
    let phone = unbreakable(&carnet.helpline_phone);
    let expiry = format!("Valable jusqu'au {}", cheque.expires_on);
    let purpose = "À remettre à un lieu de médiation numérique qualifié en échange d'un \
                   accompagnement (environ 2 heures).";
    let help = format!("Besoin d'aide\u{a0}? Appelez le {phone}");
    let mut flow = Flow::default();
    flow.text(Font::Mono, 26.0, &cheque.code, width);
    flow.text(Font::Bold, 15.0, &expiry, width);
    flow.gap(4.0);
    flow.text(Font::Regular, 13.5, purpose, width);
    flow.gap(4.0);
    flow.text(Font::Bold, 15.0, &help, width);
    flow.draw(page, column, body_top + 4.0, top - SLOT_HEIGHT);
}

/// A column of wrapped lines, measured before it is drawn so the cover can claim enough room.
#[derive(Default)]
struct Flow {
    items: Vec<Item>,
}

enum Item {
    Line {
        font: Font,
        size: f32,
        text: Vec<u8>,
    },
    Gap(f32),
}

impl Item {
    fn height(&self) -> f32 {
        match self {
            Item::Line { size, .. } => size * 1.25,
            Item::Gap(gap) => *gap,
        }
    }
}

impl Flow {
    fn text(&mut self, font: Font, size: f32, text: &str, width: f32) {
        for text in fonts::wrap(font, size, &fonts::encode(text), width) {
            self.items.push(Item::Line { font, size, text });
        }
    }

    fn gap(&mut self, height: f32) {
        self.items.push(Item::Gap(height));
    }

    fn height(&self) -> f32 {
        self.items.iter().map(Item::height).sum()
    }

    /// Draws from `top` downwards; lines that would cross `bottom` are dropped rather than
    /// printed over the next block.
    fn draw(&self, page: &mut Page, x: f32, top: f32, bottom: f32) {
        let mut y = top;
        for item in &self.items {
            let height = item.height();
            if let Item::Line { font, size, text } = item {
                let baseline = y - height / 2.0 - size * 0.35;
                if baseline - size * 0.25 < bottom {
                    return;
                }
                page.text(*font, *size, x, baseline, text);
            }
            y -= height;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::qr::QUIET_ZONE;
    use crate::pdf::readback::{load, page_texts};
    use lopdf::{Document, Object};

    /// Deterministic codes shaped like the real ones.
    fn chars(seed: u64, len: usize, alphabet: &[u8]) -> String {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                alphabet[(state >> 33) as usize % alphabet.len()] as char
            })
            .collect()
    }

    fn sample(seed: u64, count: usize) -> Carnet {
        const CODE: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
        const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let dashed = |s: &str| format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12]);
        let cheques = (0..count as u64)
            .map(|i| {
                let short = chars(seed * 1000 + i, 12, CODE);
                let mac = chars(seed * 7777 + i, 26, BASE32);
                CarnetCheque {
                    code: dashed(&short),
                    qr_payload: format!("PN1.K1.{short}.{mac}"),
                    value: "10,00 €".into(),
                    expires_on: "2 mars 2027".into(),
                }
            })
            .collect();
        Carnet {
            pass_code: dashed(&chars(seed, 12, CODE)),
            programme: "Pass numérique Gironde 2026".into(),
            accepted_in: "Gironde (33)".into(),
            distributor: "CCAS de Mérignac".into(),
            cheques,
            helpline_phone: "05 56 00 00 00".into(),
            helpline_email: "aide@passnum.example".into(),
            public_url: "https://passnum.example".into(),
            feedback_url: "https://passnum.example/avis".into(),
        }
    }

    /// Decodes every image XObject, in the order they were written, as a phone would.
    fn scan_qr_codes(doc: &Document) -> Vec<String> {
        let mut payloads = Vec::new();
        for object in doc.objects.values() {
            let Object::Stream(stream) = object else {
                continue;
            };
            let dict = &stream.dict;
            if dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Image") {
                continue;
            }
            let int = |key: &[u8]| dict.get(key).and_then(Object::as_i64).expect("integer");
            let (width, height) = (int(b"Width") as usize, int(b"Height") as usize);
            assert_eq!(int(b"BitsPerComponent"), 8);
            assert_eq!(
                dict.get(b"ColorSpace").and_then(Object::as_name).ok(),
                Some(&b"DeviceGray"[..])
            );
            assert_eq!(
                dict.get(b"Interpolate").and_then(Object::as_bool).ok(),
                Some(false)
            );
            let samples = &stream.content;
            assert_eq!(samples.len(), width * height);
            // The quiet zone is there: the outer 4 modules are white.
            assert!(samples[..width * QUIET_ZONE].iter().all(|&s| s == 255));
            const SCALE: usize = 4;
            let mut image = rqrr::PreparedImage::prepare_from_greyscale(
                width * SCALE,
                height * SCALE,
                |x, y| samples[(y / SCALE) * width + x / SCALE],
            );
            let grids = image.detect_grids();
            assert_eq!(grids.len(), 1, "one QR code per image");
            let (_, content) = grids[0].decode().expect("QR decodes");
            payloads.push(content);
        }
        payloads
    }

    #[test]
    fn carnets_print_every_code_and_scannable_qr_codes() {
        let input = [sample(1, 5), sample(2, 10)];
        let doc = load(&carnets(&input));
        let texts = page_texts(&doc);
        // Cover and 2 cheques, then 4 per page; each carnet starts on its own page.
        assert_eq!(texts.len(), 2 + 3);
        assert!(texts[0].contains(&input[0].pass_code));
        assert!(texts[2].contains(&input[1].pass_code));
        let all = texts.concat();
        for carnet in &input {
            for cheque in &carnet.cheques {
                assert!(all.contains(&cheque.code), "missing {}", cheque.code);
            }
        }
        for expected in [
            "Pass numérique Gironde 2026",
            "Pour savoir ce qu'il reste sur votre carnet : allez sur",
            "CCAS de Mérignac",
            "05 56 00 00 00",
            "aide@passnum.example",
            "https://passnum.example/lieux",
            "Je donne mon avis : https://passnum.example/avis",
            "Chèque 1/5",
            "Chèque 10/10",
            "10,00 €",
            "Valable jusqu'au 2 mars 2027",
            "À remettre à un lieu de médiation numérique",
        ] {
            assert!(all.contains(expected), "missing {expected:?}");
        }

        let expected: Vec<&str> = input
            .iter()
            .flat_map(|c| c.cheques.iter().map(|q| q.qr_payload.as_str()))
            .collect();
        assert_eq!(scan_qr_codes(&doc), expected);
    }

    #[test]
    fn long_inputs_stay_inside_their_blocks() {
        let mut carnet = sample(3, 5);
        carnet.programme = "Programme départemental d'inclusion numérique ".repeat(4);
        carnet.distributor = "Association ".repeat(30);
        let doc = load(&carnets(&[carnet]));
        assert!(doc.get_pages().len() >= 2);
        assert_eq!(scan_qr_codes(&doc).len(), 5);
    }

    /// Run with `cargo test --release --lib pdf -- --ignored --nocapture` for the timing.
    #[test]
    #[ignore = "slow in debug builds"]
    fn renders_a_thousand_carnets_quickly() {
        let input: Vec<Carnet> = (0..1000).map(|i| sample(i, 10)).collect();
        let start = std::time::Instant::now();
        let pdf = carnets(&input);
        let elapsed = start.elapsed();
        eprintln!(
            "1000 carnets of 10: {elapsed:?}, {} bytes ({} per carnet)",
            pdf.len(),
            pdf.len() / 1000
        );
        assert!(pdf.starts_with(b"%PDF-"));
        let images = pdf.windows(15).filter(|w| w == b"/Subtype /Image").count();
        assert_eq!(images, 10_000);
    }
}
