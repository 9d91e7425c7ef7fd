//! PDF output: flowing A4 documents (statements, reports) and printable carnets of cheques.
//!
//! Text uses the standard-14 fonts with WinAnsi encoding, so nothing is embedded and files stay
//! small; characters outside WinAnsi print as '?'. Page content is deflated (FlateDecode).

mod carnet;
mod doc;
mod fonts;
mod qr;

pub use carnet::{carnets, Carnet, CarnetCheque};
pub use doc::Doc;

use fonts::Font;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// miniz's fastest level: most of what deflate saves on content streams, at a fraction of
/// the time of the default level.
const DEFLATE_LEVEL: u8 = 1;

/// A4 portrait, in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MM: f32 = 72.0 / 25.4;

/// One page being drawn: its content stream and the images it shows.
struct Page {
    content: Content,
    images: Vec<Ref>,
    /// The font and line width in force, so that a table of thousands of cells does not set
    /// them again for every cell.
    font: Option<(Font, f32)>,
    line_width: Option<f32>,
}

/// Positions to a thousandth of a point: far below what a printer shows, and short to write.
fn at(v: f32) -> f32 {
    (v * 1000.0).round() / 1000.0
}

impl Page {
    fn new() -> Page {
        Page {
            content: Content::new(),
            images: Vec::new(),
            font: None,
            line_width: None,
        }
    }

    /// Shows WinAnsi-encoded text with its baseline starting at (x, y).
    fn text(&mut self, font: Font, size: f32, x: f32, y: f32, text: &[u8]) {
        if text.is_empty() {
            return;
        }
        // The font is part of the graphics state, which holds across text objects.
        if self.font != Some((font, size)) {
            self.content.set_font(font.resource(), size);
            self.font = Some((font, size));
        }
        self.content
            .begin_text()
            .next_line(at(x), at(y))
            .show(Str(text))
            .end_text();
    }

    fn text_right(&mut self, font: Font, size: f32, right: f32, y: f32, text: &[u8]) {
        self.text(font, size, right - font.width(text, size), y, text);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        if self.line_width != Some(width) {
            self.content.set_line_width(width);
            self.line_width = Some(width);
        }
        self.content
            .move_to(at(x1), at(y1))
            .line_to(at(x2), at(y2))
            .stroke();
    }

    fn dashed_line(&mut self, x1: f32, y: f32, x2: f32, width: f32) {
        let outside = self.line_width;
        self.content.save_state().set_dash_pattern([4.0, 3.0], 0.0);
        self.line(x1, y, x2, y, width);
        self.content.restore_state();
        self.line_width = outside;
    }

    /// Draws an image XObject into the rectangle whose lower-left corner is (x, y).
    fn image(&mut self, image: Ref, x: f32, y: f32, width: f32, height: f32) {
        let index = self.images.len();
        self.images.push(image);
        let name = image_name(index);
        self.content
            .save_state()
            .transform([width, 0.0, 0.0, height, x, y])
            .x_object(Name(name.as_bytes()))
            .restore_state();
    }
}

fn image_name(index: usize) -> String {
    format!("Im{index}")
}

/// Writes objects straight into the output as pages are completed, so a thousand carnets never
/// sit in memory twice.
struct Writer {
    pdf: Pdf,
    next_id: i32,
    pages: Vec<Ref>,
}

impl Writer {
    const CATALOG: Ref = Ref::new(1);
    const PAGE_TREE: Ref = Ref::new(2);
    const INFO: Ref = Ref::new(3);
    /// One dictionary per font, shared by all pages, in the order of `Font::ALL`.
    const FONTS: [Ref; 3] = [Ref::new(4), Ref::new(5), Ref::new(6)];

    fn with_capacity(capacity: usize) -> Writer {
        let mut pdf = Pdf::with_capacity(capacity);
        for (font, id) in Font::ALL.into_iter().zip(Self::FONTS) {
            pdf.type1_font(id)
                .base_font(font.base_font())
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        Writer {
            pdf,
            next_id: 7,
            pages: Vec::new(),
        }
    }

    fn alloc(&mut self) -> Ref {
        let id = Ref::new(self.next_id);
        self.next_id += 1;
        id
    }

    /// An uncompressed 8-bit DeviceGray image, one sample per byte, rows top to bottom.
    fn gray_image(&mut self, width: usize, height: usize, samples: &[u8]) -> Ref {
        let id = self.alloc();
        let mut image = self.pdf.image_xobject(id, samples);
        image.width(width as i32);
        image.height(height as i32);
        image.color_space().device_gray();
        image.bits_per_component(8);
        // Hard module edges when scaled up: a blurred QR code scans badly once printed.
        image.interpolate(false);
        image.finish();
        id
    }

    fn add_page(&mut self, page: Page) {
        let page_id = self.alloc();
        let content_id = self.alloc();
        // Content streams are mostly repeated operators and coordinates: deflated, a
        // statement's pages take about a tenth of the space.
        let content = page.content.finish();
        let deflated = miniz_oxide::deflate::compress_to_vec_zlib(&content, DEFLATE_LEVEL);
        self.pdf
            .stream(content_id, &deflated)
            .filter(Filter::FlateDecode);
        let mut dict = self.pdf.page(page_id);
        dict.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(Self::PAGE_TREE)
            .contents(content_id);
        let mut resources = dict.resources();
        let mut fonts = resources.fonts();
        for (font, id) in Font::ALL.into_iter().zip(Self::FONTS) {
            fonts.pair(font.resource(), id);
        }
        fonts.finish();
        if !page.images.is_empty() {
            let mut x_objects = resources.x_objects();
            for (index, image) in page.images.iter().enumerate() {
                let name = image_name(index);
                x_objects.pair(Name(name.as_bytes()), *image);
            }
        }
        resources.finish();
        dict.finish();
        self.pages.push(page_id);
    }

    fn finish(mut self, title: &str) -> Vec<u8> {
        self.pdf
            .catalog(Self::CATALOG)
            .pages(Self::PAGE_TREE)
            .lang(TextStr("fr-FR"));
        let count = self.pages.len() as i32;
        self.pdf
            .pages(Self::PAGE_TREE)
            .kids(self.pages.iter().copied())
            .count(count);
        self.pdf
            .document_info(Self::INFO)
            .title(TextStr(title))
            .producer(TextStr("passnum"));
        self.pdf.finish()
    }
}

/// Reading our PDFs back, for the tests of every submodule.
#[cfg(test)]
mod readback {
    use lopdf::{Document, Object};

    pub(crate) fn load(bytes: &[u8]) -> Document {
        match Document::load_mem(bytes) {
            Ok(doc) => doc,
            Err(err) => panic!("lopdf cannot read our PDF: {err}"),
        }
    }

    /// Each page's text as lopdf decodes it (WinAnsi to Unicode), one line per text object,
    /// with non-breaking spaces made plain so tests can search for ordinary phrases.
    pub(crate) fn page_texts(doc: &Document) -> Vec<String> {
        doc.get_pages()
            .keys()
            .map(|&number| {
                let text = doc.extract_text(&[number]).expect("extract text");
                text.replace('\u{a0}', " ")
            })
            .collect()
    }

    /// Every text run of a page: (font resource name, size, x, y, WinAnsi bytes).
    pub(crate) fn text_runs(doc: &Document, page: u32) -> Vec<(String, f32, f32, f32, Vec<u8>)> {
        let pages = doc.get_pages();
        let content = doc
            .get_and_decode_page_content(pages[&page])
            .expect("decode content");
        let mut runs = Vec::new();
        let (mut font, mut size, mut x, mut y) = (String::new(), 0.0, 0.0, 0.0);
        let number = |o: &Object| o.as_float().expect("number");
        for op in content.operations {
            match op.operator.as_str() {
                "Tf" => {
                    font = String::from_utf8_lossy(op.operands[0].as_name().expect("name")).into();
                    size = number(&op.operands[1]);
                }
                "Td" => (x, y) = (number(&op.operands[0]), number(&op.operands[1])),
                "Tj" => {
                    let bytes = op.operands[0].as_str().expect("string").to_vec();
                    runs.push((font.clone(), size, x, y, bytes));
                }
                _ => {}
            }
        }
        runs
    }
}
