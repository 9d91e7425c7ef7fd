//! The schema, as far as camt.053.001.08 uses XSD, loaded into a model of its types. Loading
//! fails on any construction not listed here, so that a change of schema cannot silently
//! weaken the check. Pattern facets are run by the regex crate, their syntax translated.

use super::tree::read_tree;
use super::values::parse_decimal;
use super::SCHEMA_XSD;
use regex::Regex;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::LazyLock;

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

pub(super) static SCHEMA: LazyLock<Result<Schema, String>> =
    LazyLock::new(|| Schema::load(SCHEMA_XSD));

pub(super) struct Schema {
    pub(super) complex: Vec<Complex>,
    pub(super) simple: Vec<Simple>,
    /// The type of the global element `Document`.
    pub(super) document: usize,
}

pub(super) struct Complex {
    pub(super) content: Content,
}

pub(super) enum Content {
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
    /// A value with attributes (amounts with their currency).
    Simple {
        base: usize,
        attrs: Vec<AttrDecl>,
    },
}

pub(super) struct Particle {
    /// Empty for the wildcard.
    pub(super) name: String,
    pub(super) ty: Ty,
    pub(super) min: u32,
    pub(super) max: u32,
}

#[derive(Clone, Copy)]
pub(super) enum Ty {
    Complex(usize),
    Simple(usize),
    /// xs:any namespace="##any" processContents="lax".
    Any,
}

pub(super) struct AttrDecl {
    pub(super) name: String,
    pub(super) ty: usize,
    pub(super) required: bool,
}

pub(super) struct Simple {
    pub(super) name: String,
    pub(super) builtin: Builtin,
    /// One set per restriction step, all of which apply.
    pub(super) facets: Vec<Facets>,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Builtin {
    String,
    Decimal,
    Boolean,
    Date,
    DateTime,
    GYearMonth,
}

#[derive(Default)]
pub(super) struct Facets {
    pub(super) enumeration: Vec<String>,
    /// Alternatives: the value must match one of them.
    pub(super) patterns: Vec<Pattern>,
    pub(super) min_length: Option<usize>,
    pub(super) max_length: Option<usize>,
    pub(super) total_digits: Option<usize>,
    pub(super) fraction_digits: Option<usize>,
    /// minInclusive; the schema only ever says 0.
    pub(super) non_negative: bool,
}

impl Schema {
    fn load(xsd: &str) -> Result<Schema, String> {
        let tree = read_tree(xsd).map_err(|e| e.reason)?;
        let top = &tree.nodes[tree.root];
        if top.name != "schema" || !tree.ns_is(top.ns, XSD_NS) {
            return Err("racine xs:schema attendue".into());
        }
        let xs = |node: usize| -> Result<&str, String> {
            let n = &tree.nodes[node];
            if tree.ns_is(n.ns, XSD_NS) {
                Ok(n.name.as_str())
            } else {
                Err(format!("élément {} hors de l'espace XSD", n.name))
            }
        };
        let name_of = |node: usize| -> Result<String, String> {
            tree.attr(node, "name")
                .map(str::to_owned)
                .ok_or_else(|| "déclaration sans nom".to_string())
        };
        // Names first: types refer to each other in any order.
        let mut complex_names = HashMap::new();
        let mut simple_names = HashMap::new();
        let mut document_type = None;
        for &child in &top.children {
            match xs(child)? {
                "complexType" => {
                    complex_names.insert(name_of(child)?, complex_names.len());
                }
                "simpleType" => {
                    simple_names.insert(name_of(child)?, simple_names.len());
                }
                "element" => {
                    if name_of(child)? != "Document" {
                        return Err("élément global autre que Document".into());
                    }
                    document_type = tree.attr(child, "type").map(str::to_owned);
                }
                "annotation" => {}
                other => return Err(format!("construction xs:{other} non prise en charge")),
            }
        }
        let lookup_simple = |name: &str| -> Result<usize, String> {
            simple_names
                .get(name)
                .copied()
                .ok_or_else(|| format!("type simple {name} inconnu"))
        };
        let type_ref = |name: &str| -> Result<Ty, String> {
            if let Some(&i) = complex_names.get(name) {
                Ok(Ty::Complex(i))
            } else if let Some(&i) = simple_names.get(name) {
                Ok(Ty::Simple(i))
            } else {
                Err(format!("type {name} inconnu ou non pris en charge"))
            }
        };
        let occurs = |node: usize, attr: &str| -> Result<u32, String> {
            match tree.attr(node, attr) {
                None => Ok(1),
                Some("unbounded") => Ok(u32::MAX),
                Some(v) => v.parse().map_err(|_| format!("{attr}={v} illisible")),
            }
        };
        let only_attrs = |node: usize, allowed: &[&str]| -> Result<(), String> {
            match tree.nodes[node]
                .attrs
                .iter()
                .find(|a| !allowed.contains(&a.qname.as_str()))
            {
                Some(a) => Err(format!("attribut {} non pris en charge", a.qname)),
                None => Ok(()),
            }
        };
        let particles = |group: usize| -> Result<Vec<Particle>, String> {
            only_attrs(group, &[])?;
            let mut out = Vec::new();
            for &el in &tree.nodes[group].children {
                match xs(el)? {
                    "element" => {
                        only_attrs(el, &["name", "type", "minOccurs", "maxOccurs"])?;
                        let ty = tree.attr(el, "type").ok_or("élément sans type")?;
                        out.push(Particle {
                            name: name_of(el)?,
                            ty: type_ref(ty)?,
                            min: occurs(el, "minOccurs")?,
                            max: occurs(el, "maxOccurs")?,
                        });
                    }
                    "any" => {
                        only_attrs(
                            el,
                            &["namespace", "processContents", "minOccurs", "maxOccurs"],
                        )?;
                        if tree.attr(el, "namespace") != Some("##any")
                            || tree.attr(el, "processContents") != Some("lax")
                        {
                            return Err("xs:any autre que ##any lax".into());
                        }
                        out.push(Particle {
                            name: String::new(),
                            ty: Ty::Any,
                            min: occurs(el, "minOccurs")?,
                            max: occurs(el, "maxOccurs")?,
                        });
                    }
                    other => return Err(format!("xs:{other} dans un groupe non pris en charge")),
                }
            }
            Ok(out)
        };

        let mut complex = Vec::with_capacity(complex_names.len());
        let mut simple: Vec<Simple> = Vec::with_capacity(simple_names.len());
        // Simple types: restrictions of a built-in (the schema has no deeper derivation).
        for &child in &top.children {
            if xs(child)? != "simpleType" {
                continue;
            }
            only_attrs(child, &["name"])?;
            let [restriction] = tree.nodes[child].children[..] else {
                return Err("xs:simpleType sans xs:restriction unique".into());
            };
            if xs(restriction)? != "restriction" {
                return Err("xs:simpleType autre qu'une restriction".into());
            }
            only_attrs(restriction, &["base"])?;
            let builtin = match tree.attr(restriction, "base") {
                Some("xs:string") => Builtin::String,
                Some("xs:decimal") => Builtin::Decimal,
                Some("xs:boolean") => Builtin::Boolean,
                Some("xs:date") => Builtin::Date,
                Some("xs:dateTime") => Builtin::DateTime,
                Some("xs:gYearMonth") => Builtin::GYearMonth,
                other => return Err(format!("base {other:?} non prise en charge")),
            };
            let mut facets = Facets::default();
            for &facet in &tree.nodes[restriction].children {
                only_attrs(facet, &["value"])?;
                let value = tree.attr(facet, "value").ok_or("facette sans valeur")?;
                let number = || {
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("facette {value} illisible"))
                };
                match xs(facet)? {
                    "enumeration" => facets.enumeration.push(value.to_owned()),
                    "pattern" => facets.patterns.push(Pattern::compile(value)?),
                    "minLength" => facets.min_length = Some(number()?),
                    "maxLength" => facets.max_length = Some(number()?),
                    "totalDigits" => facets.total_digits = Some(number()?),
                    "fractionDigits" => facets.fraction_digits = Some(number()?),
                    "minInclusive" if builtin == Builtin::Decimal => match parse_decimal(value) {
                        Some(d) if d.is_zero() => facets.non_negative = true,
                        _ => return Err(format!("minInclusive {value} non pris en charge")),
                    },
                    other => return Err(format!("facette xs:{other} non prise en charge")),
                }
            }
            simple.push(Simple {
                name: name_of(child)?,
                builtin,
                facets: vec![facets],
            });
        }
        for &child in &top.children {
            if xs(child)? != "complexType" {
                continue;
            }
            only_attrs(child, &["name"])?;
            let [group] = tree.nodes[child].children[..] else {
                return Err("xs:complexType sans contenu unique".into());
            };
            let content = match xs(group)? {
                "sequence" => Content::Sequence(particles(group)?),
                "choice" => Content::Choice(particles(group)?),
                "simpleContent" => {
                    let [extension] = tree.nodes[group].children[..] else {
                        return Err("xs:simpleContent sans xs:extension unique".into());
                    };
                    if xs(extension)? != "extension" {
                        return Err("xs:simpleContent autre qu'une extension".into());
                    }
                    only_attrs(extension, &["base"])?;
                    let base = lookup_simple(tree.attr(extension, "base").unwrap_or(""))?;
                    let mut attrs = Vec::new();
                    for &a in &tree.nodes[extension].children {
                        if xs(a)? != "attribute" {
                            return Err("xs:extension avec autre chose que des attributs".into());
                        }
                        only_attrs(a, &["name", "type", "use"])?;
                        attrs.push(AttrDecl {
                            name: name_of(a)?,
                            ty: lookup_simple(tree.attr(a, "type").unwrap_or(""))?,
                            required: tree.attr(a, "use") == Some("required"),
                        });
                    }
                    Content::Simple { base, attrs }
                }
                other => return Err(format!("contenu xs:{other} non pris en charge")),
            };
            if let Content::Choice(options) = &content {
                if options.iter().any(|p| matches!(p.ty, Ty::Any)) {
                    return Err("xs:any dans un xs:choice non pris en charge".into());
                }
            }
            complex.push(Complex { content });
        }
        let document = match document_type.as_deref().map(type_ref) {
            Some(Ok(Ty::Complex(i))) => i,
            _ => return Err("élément global Document absent ou mal typé".into()),
        };
        Ok(Schema {
            complex,
            simple,
            document,
        })
    }
}

/// An XSD pattern facet, run by the regex crate. The two syntaxes mostly agree; the pattern
/// is rewritten so that what differs keeps its XSD meaning: `.` is any character but a line
/// end, `\d` and `\s` are ASCII digits and spaces, and every other character outside a class
/// or range (`^`, `$`, `&`, `~`…) stands for itself. What XSD has and the regex crate would read
/// otherwise, or the reverse, is refused at load: class subtraction, `\p{…}`, `\w`, `\i`, `(?`,
/// lazy quantifiers.
pub(super) struct Pattern {
    pub(super) source: String,
    regex: Regex,
}

impl Pattern {
    pub(super) fn compile(source: &str) -> Result<Pattern, String> {
        let fail = |e: String| format!("motif {source} : {e}");
        let syntax = regex_syntax(&mut source.chars().peekable()).map_err(fail)?;
        // The value as a whole matches, not a part of it.
        let regex = Regex::new(&format!("^(?:{syntax})$"))
            .map_err(|e| fail(e.to_string().lines().last().unwrap_or("").trim().into()))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    pub(super) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

type Cursor<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// The regex crate's spelling of an XSD pattern; quantifiers and groups are checked here only
/// where the two differ, the rest by the regex crate.
fn regex_syntax(chars: &mut Cursor) -> Result<String, String> {
    let mut out = String::new();
    // Just after an atom, where one quantifier may come.
    let mut quantifiable = false;
    while let Some(c) = chars.next() {
        let mut atom = true;
        match c {
            '\\' => match escape(chars.next())? {
                Escape::Char(c) => literal(&mut out, c),
                Escape::Set(set, negated) => {
                    out.push_str(if negated { "[^" } else { "[" });
                    out.push_str(set);
                    out.push(']');
                }
            },
            '.' => out.push_str("[^\\n\\r]"),
            '[' => class(chars, &mut out)?,
            '(' if chars.peek() == Some(&'?') => return Err("« (? » inconnu en XSD".into()),
            '(' | '|' => {
                out.push(c);
                atom = false;
            }
            ')' => out.push(c),
            '?' | '*' | '+' if quantifiable => {
                out.push(c);
                atom = false;
            }
            '{' if quantifiable => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(d @ ('0'..='9' | ',')) => body.push(d),
                        _ => return Err("« { » sans « } » ou illisible".into()),
                    }
                }
                if body.starts_with(',') || body.is_empty() || body.matches(',').count() > 1 {
                    return Err(format!("{{{body}}} illisible"));
                }
                let _ = write!(out, "{{{body}}}");
                atom = false;
            }
            '?' | '*' | '+' | '{' | '}' | ']' => return Err(format!("« {c} » inattendu")),
            c => literal(&mut out, c),
        }
        quantifiable = atom;
    }
    Ok(out)
}

/// A class `[…]`, its `[` read: single characters, ranges and `\d`/`\s`, `^` first to negate.
fn class(chars: &mut Cursor, out: &mut String) -> Result<(), String> {
    out.push('[');
    if chars.peek() == Some(&'^') {
        chars.next();
        out.push('^');
    }
    let mut first = true;
    loop {
        let c = chars.next().ok_or("« [ » non fermé")?;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = match c {
            '\\' => match escape(chars.next())? {
                Escape::Char(c) => c,
                Escape::Set(set, false) => {
                    out.push_str(set);
                    continue;
                }
                Escape::Set(_, true) => {
                    return Err("classe négative dans [ ] non prise en charge".into())
                }
            },
            '[' => return Err("soustraction de classes non prise en charge".into()),
            c => c,
        };
        literal(out, lo);
        let mut ahead = chars.clone();
        if ahead.next() == Some('-') && ahead.next().is_some_and(|c| c != ']') {
            chars.next();
            let hi = match chars.next() {
                Some('\\') => match escape(chars.next())? {
                    Escape::Char(c) => c,
                    Escape::Set(..) => return Err("intervalle jusqu'à une classe".into()),
                },
                Some('[') => return Err("soustraction de classes non prise en charge".into()),
                Some(c) => c,
                None => return Err("« [ » non fermé".into()),
            };
            out.push('-');
            literal(out, hi);
        }
    }
    out.push(']');
    Ok(())
}

/// What `\x` stands for in XSD: one character, or a set (its ranges as the regex crate writes
/// them inside a class, and whether it is negated).
enum Escape {
    Char(char),
    Set(&'static str, bool),
}

fn escape(c: Option<char>) -> Result<Escape, String> {
    const SPACE: &str = "\\x{20}\\t\\n\\r";
    Ok(match c.ok_or("« \\ » final")? {
        'n' => Escape::Char('\n'),
        'r' => Escape::Char('\r'),
        't' => Escape::Char('\t'),
        'd' => Escape::Set("0-9", false),
        'D' => Escape::Set("0-9", true),
        's' => Escape::Set(SPACE, false),
        'S' => Escape::Set(SPACE, true),
        c if "\\|.-^?*+{}()[]".contains(c) => Escape::Char(c),
        other => return Err(format!("échappement \\{other} non pris en charge")),
    })
}

/// One character as itself: letters and digits as they are, anything else by its code point
/// (which the regex crate reads as that character, in a class or not).
fn literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_schema_is_fully_understood() {
        let schema = SCHEMA.as_ref().expect("schema loads");
        assert_eq!(schema.complex.len(), 172);
        assert_eq!(schema.simple.len(), 102);
    }

    #[test]
    fn patterns_match_whole_values() {
        let p = |s: &str| Pattern::compile(s).unwrap();
        let iban = p("[A-Z]{2,2}[0-9]{2,2}[a-zA-Z0-9]{1,30}");
        assert!(iban.is_match("FR7630006000011234567890189"));
        assert!(
            !iban.is_match("FR76 3000")
                && !iban.is_match("FR76")
                && !iban.is_match(&"A".repeat(40))
        );
        let bic = p("[A-Z0-9]{4,4}[A-Z]{2,2}[A-Z0-9]{2,2}([A-Z0-9]{3,3}){0,1}");
        assert!(bic.is_match("AGRIFRPP") && bic.is_match("AGRIFRPPXXX"));
        assert!(!bic.is_match("AGRIFRPPXX") && !bic.is_match("agriFRPP"));
        let phone = p("\\+[0-9]{1,3}-[0-9()+\\-]{1,30}");
        assert!(phone.is_match("+33-1(23)45-67") && !phone.is_match("33-123"));
        let uuid = p("[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}");
        assert!(uuid.is_match("123e4567-e89b-42d3-a456-426614174000"));
        assert!(!uuid.is_match("123e4567-e89b-12d3-a456-426614174000"));
        assert!(p("a(b|cd)*e").is_match("abcdbe") && !p("a(b|cd)*e").is_match("ace"));
        assert!(
            Pattern::compile("[a-z-[aeiou]]").is_err(),
            "class subtraction is not supported"
        );
        assert!(
            Pattern::compile("\\p{L}").is_err(),
            "unsupported escapes are refused at load"
        );
        // What the regex crate reads otherwise keeps its XSD meaning, or is refused.
        assert!(p("a.c").is_match("a-c") && !p("a.c").is_match("a\rc"));
        assert!(p("^[$&&~]{2}#").is_match("^&~#") && !p("^a").is_match("a"));
        assert!(p("[\\d\\s]+\\S").is_match("1 2\tx") && !p("\\d").is_match("\u{661}"));
        for refused in [
            "(?i)a",
            "a*?",
            "a{2}+",
            "a{,2}",
            "*a",
            "a)",
            "[a",
            "[z-a]",
            "(a{1000}){1000}",
        ] {
            assert!(Pattern::compile(refused).is_err(), "{refused}");
        }
    }
}
