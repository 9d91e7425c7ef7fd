//! Reading the app's PDFs back, as a reader and a phone would: the text of each page, and every
//! QR code image decoded. Independent of the app's own writer, so a test can catch it out.
//!
//! The app writes standard-14 fonts with WinAnsi-encoded strings, and each QR code as an
//! uncompressed 8-bit DeviceGray image XObject, one pixel per module, quiet zone included.

use lopdf::{Dictionary, Document, Object, ObjectId};

/// Parses a PDF, panicking with lopdf's reason if it cannot.
pub fn load(bytes: &[u8]) -> Document {
    assert!(
        bytes.starts_with(b"%PDF-"),
        "not a PDF: starts with {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
    );
    Document::load_mem(bytes).unwrap_or_else(|err| panic!("lopdf cannot read the PDF: {err}"))
}

/// All the text of each page, in page order, decoded from WinAnsi to UTF-8: one line per text
/// object (or per line move inside one). Non-breaking spaces become plain spaces, so that tests
/// can search for ordinary phrases such as a phone number.
pub fn pdf_texts(bytes: &[u8]) -> Vec<String> {
    let doc = load(bytes);
    doc.get_pages()
        .values()
        .map(|&page| page_text(&doc, page).replace('\u{a0}', " "))
        .collect()
}

/// Every image XObject drawn, in page order (and drawing order within a page), decoded as a
/// QR code. Panics if an image is not a single readable QR code, or if the document holds an
/// image that no page draws (a hidden code would still be in the file).
pub fn pdf_qr_payloads(bytes: &[u8]) -> Vec<String> {
    let doc = load(bytes);
    let mut drawn: Vec<ObjectId> = Vec::new();
    for &page in doc.get_pages().values() {
        for op in page_operations(&doc, page) {
            if op.operator != "Do" {
                continue;
            }
            let name = op.operands[0].as_name().expect("Do takes a name");
            let id = resource(&doc, page, b"XObject", name)
                .and_then(|o| o.as_reference().ok())
                .unwrap_or_else(|| panic!("XObject {} not in the page resources", show_name(name)));
            drawn.push(id);
        }
    }
    let all_images: Vec<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| is_image(o))
        .map(|(&id, _)| id)
        .collect();
    for id in &all_images {
        assert!(
            drawn.contains(id),
            "image object {id:?} is in the file but no page draws it"
        );
    }
    drawn
        .into_iter()
        .filter(|&id| doc.get_object(id).is_ok_and(is_image))
        .map(|id| decode_qr(&doc, id))
        .collect()
}

/// Decodes WinAnsi (Windows-1252, as PDF defines WinAnsiEncoding) to UTF-8.
pub fn winansi_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| winansi_char(b)).collect()
}

fn winansi_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{fffd}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{fffd}', 'Ž',
        '\u{fffd}', '\u{fffd}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
        '\u{fffd}', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        // ASCII and Latin-1 are the same code points.
        _ => char::from(b),
    }
}

fn show_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn page_operations(doc: &Document, page: ObjectId) -> Vec<lopdf::content::Operation> {
    doc.get_and_decode_page_content(page)
        .unwrap_or_else(|err| panic!("cannot decode page content: {err}"))
        .operations
}

/// `/Resources /<category> /<name>` of a page, whether the resources are inline, referenced or
/// inherited from the page tree.
fn resource<'a>(
    doc: &'a Document,
    page: ObjectId,
    category: &[u8],
    name: &[u8],
) -> Option<&'a Object> {
    let (inline, inherited) = doc
        .get_page_resources(page)
        .expect("page resources readable");
    let dicts = inline.into_iter().chain(
        inherited
            .into_iter()
            .filter_map(|id| doc.get_dictionary(id).ok()),
    );
    for resources in dicts {
        let Some(entries) = deref_dict(doc, resources.get(category).ok()) else {
            continue;
        };
        if let Ok(object) = entries.get(name) {
            return Some(object);
        }
    }
    None
}

fn deref_dict<'a>(doc: &'a Document, object: Option<&'a Object>) -> Option<&'a Dictionary> {
    let (_, object) = doc.dereference(object?).ok()?;
    object.as_dict().ok()
}

/// The text of one page: each text object (BT … ET) on its own line, and a new line wherever the
/// text position moves to another line inside one.
fn page_text(doc: &Document, page: ObjectId) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut flush = |line: &mut String| {
        if !line.is_empty() {
            lines.push(std::mem::take(line));
        }
    };
    for op in page_operations(doc, page) {
        match op.operator.as_str() {
            "Tf" => {
                let name = op.operands[0].as_name().expect("Tf takes a font name");
                check_winansi_font(doc, page, name);
            }
            "BT" | "ET" | "Td" | "TD" | "T*" | "Tm" => flush(&mut line),
            "Tj" => line.push_str(&winansi_to_string(
                op.operands[0].as_str().expect("Tj takes a string"),
            )),
            "'" | "\"" => {
                flush(&mut line);
                let string = op.operands.last().and_then(|o| o.as_str().ok());
                line.push_str(&winansi_to_string(string.expect("a string to show")));
            }
            "TJ" => {
                let parts = op.operands[0].as_array().expect("TJ takes an array");
                for part in parts {
                    if let Ok(bytes) = part.as_str() {
                        line.push_str(&winansi_to_string(bytes));
                    }
                }
            }
            _ => {}
        }
    }
    flush(&mut line);
    lines.join("\n")
}

/// Text is decoded as WinAnsi: make sure that is what the font says it uses.
fn check_winansi_font(doc: &Document, page: ObjectId, name: &[u8]) {
    let font = deref_dict(doc, resource(doc, page, b"Font", name))
        .unwrap_or_else(|| panic!("font {} not in the page resources", show_name(name)));
    let encoding = font.get(b"Encoding").and_then(Object::as_name);
    assert_eq!(
        encoding.ok(),
        Some(&b"WinAnsiEncoding"[..]),
        "font {} is not WinAnsi-encoded: {font:?}",
        show_name(name)
    );
}

fn is_image(object: &Object) -> bool {
    let Object::Stream(stream) = object else {
        return false;
    };
    stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(&b"Image"[..])
}

/// Decodes one 8-bit DeviceGray image as a QR code. The image has one pixel per module, so it
/// is scaled up before detection, as a camera would see it.
fn decode_qr(doc: &Document, id: ObjectId) -> String {
    let stream = doc
        .get_object(id)
        .and_then(Object::as_stream)
        .expect("image stream");
    let dict = &stream.dict;
    let int = |key: &[u8]| {
        let object = dict.get(key).unwrap_or_else(|_| {
            panic!("image {id:?} has no {}", show_name(key));
        });
        let (_, object) = doc.dereference(object).expect("resolvable");
        object.as_i64().expect("an integer")
    };
    let (width, height) = (int(b"Width") as usize, int(b"Height") as usize);
    assert_eq!(int(b"BitsPerComponent"), 8, "image {id:?}: 8-bit samples");
    assert_eq!(
        dict.get(b"ColorSpace").and_then(Object::as_name).ok(),
        Some(&b"DeviceGray"[..]),
        "image {id:?}: DeviceGray"
    );
    let samples = if dict.has(b"Filter") {
        stream
            .decompressed_content()
            .unwrap_or_else(|err| panic!("image {id:?} cannot be decompressed: {err}"))
    } else {
        stream.content.clone()
    };
    assert_eq!(
        samples.len(),
        width * height,
        "image {id:?}: one byte per pixel"
    );
    const SCALE: usize = 4;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width * SCALE, height * SCALE, |x, y| {
            samples[(y / SCALE) * width + x / SCALE]
        });
    let grids = image.detect_grids();
    assert_eq!(
        grids.len(),
        1,
        "image {id:?} ({width}x{height}): one QR code"
    );
    match grids[0].decode() {
        Ok((_, content)) => content,
        Err(err) => panic!("image {id:?}: QR code does not decode: {err:?}"),
    }
}
