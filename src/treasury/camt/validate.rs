//! A tree checked against the schema's model: names, namespaces, order and number of
//! elements, choices, attributes, text where only elements may be; each violation with the
//! path of the element and its line.

use super::schema::{AttrDecl, Content, Particle, Schema, Ty};
use super::tree::{is_xml_space, line_of, Tree};
use super::{refuse, shorten, StatementError, NAMESPACE};

const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

impl Schema {
    pub(super) fn check_document(&self, tree: &Tree) -> Result<(), Fail> {
        let root = &tree.nodes[tree.root];
        if root.name != "Document" || !tree.ns_is(root.ns, NAMESPACE) {
            return Err(Fail::at(
                tree.root,
                vec![],
                format!(
                    "l'élément racine est <{}> ; un relevé camt.053.001.08 commence par <Document>",
                    root.name
                ),
            ));
        }
        let mut path = vec![Seg {
            name: "Document".into(),
            index: None,
        }];
        self.check(tree, tree.root, Ty::Complex(self.document), &mut path)
    }

    fn check(&self, tree: &Tree, node: usize, ty: Ty, path: &mut Vec<Seg>) -> Result<(), Fail> {
        let n = &tree.nodes[node];
        match ty {
            Ty::Any => {
                // Lax: checked only where the schema declares the element, i.e. a nested
                // Document; anything else is let through unread.
                if n.name == "Document" && tree.ns_is(n.ns, NAMESPACE) {
                    return self.check(tree, node, Ty::Complex(self.document), path);
                }
                Ok(())
            }
            Ty::Simple(s) => {
                self.check_attrs(tree, node, &[], path)?;
                self.check_no_children(tree, node, path)?;
                self.check_value(s, &n.text)
                    .map_err(|msg| Fail::at(node, path.clone(), msg))
            }
            Ty::Complex(c) => match &self.complex[c].content {
                Content::Simple { base, attrs } => {
                    self.check_attrs(tree, node, attrs, path)?;
                    self.check_no_children(tree, node, path)?;
                    self.check_value(*base, &n.text)
                        .map_err(|msg| Fail::at(node, path.clone(), msg))
                }
                Content::Sequence(particles) => {
                    self.check_attrs(tree, node, &[], path)?;
                    self.check_element_only(tree, node, path)?;
                    self.check_sequence(tree, node, particles, path)
                }
                Content::Choice(options) => {
                    self.check_attrs(tree, node, &[], path)?;
                    self.check_element_only(tree, node, path)?;
                    self.check_choice(tree, node, options, path)
                }
            },
        }
    }

    fn check_sequence(
        &self,
        tree: &Tree,
        node: usize,
        particles: &[Particle],
        path: &mut Vec<Seg>,
    ) -> Result<(), Fail> {
        let kids = &tree.nodes[node].children;
        let mut i = 0;
        // Where the elements that may come next start, for the message.
        let mut next_possible = 0;
        for (pi, p) in particles.iter().enumerate() {
            let mut count = 0;
            while count < p.max && i < kids.len() && matches_particle(tree, kids[i], p) {
                self.check_child(tree, kids[i], p, count, path)?;
                count += 1;
                i += 1;
                next_possible = if count < p.max { pi } else { pi + 1 };
            }
            if count < p.min {
                if p.min > 1 && count > 0 {
                    return Err(Fail::at(
                        node,
                        path.clone(),
                        format!(
                            "il faut au moins {} éléments <{}>, il y en a {count}",
                            p.min, p.name
                        ),
                    ));
                }
                return Err(match kids.get(i) {
                    Some(&kid) => {
                        unexpected(tree, kid, path, &expected_here(&particles[next_possible..]))
                    }
                    None => Fail::at(
                        node,
                        path.clone(),
                        format!("il manque l'élément obligatoire <{}>", p.name),
                    ),
                });
            }
        }
        match kids.get(i) {
            None => Ok(()),
            Some(&kid) => {
                let n = &tree.nodes[kid];
                let known = particles.iter().any(|p| matches_particle(tree, kid, p));
                if !tree.ns_is(n.ns, NAMESPACE) {
                    return Err(unexpected(tree, kid, path, "rien de plus"));
                }
                let msg = if known {
                    format!(
                        "l'élément <{}> est mal placé ou en trop (la norme fixe l'ordre et le \
                         nombre des éléments de <{}>)",
                        n.name, tree.nodes[node].name
                    )
                } else {
                    format!(
                        "l'élément <{}> n'existe pas dans <{}> selon la norme camt.053.001.08",
                        n.name, tree.nodes[node].name
                    )
                };
                Err(Fail::at(kid, with_kid(tree, path, kid), msg))
            }
        }
    }

    fn check_choice(
        &self,
        tree: &Tree,
        node: usize,
        options: &[Particle],
        path: &mut Vec<Seg>,
    ) -> Result<(), Fail> {
        let kids = &tree.nodes[node].children;
        let names = || {
            options
                .iter()
                .map(|p| format!("<{}>", p.name))
                .collect::<Vec<_>>()
                .join(" ou ")
        };
        let Some(&first) = kids.first() else {
            if options.iter().any(|p| p.min == 0) {
                return Ok(());
            }
            return Err(Fail::at(
                node,
                path.clone(),
                format!("il manque {} (l'un des deux)", names()),
            ));
        };
        let Some(p) = options.iter().find(|p| matches_particle(tree, first, p)) else {
            return Err(unexpected(tree, first, path, &names()));
        };
        let mut count = 0;
        while count < p.max
            && (count as usize) < kids.len()
            && matches_particle(tree, kids[count as usize], p)
        {
            self.check_child(tree, kids[count as usize], p, count, path)?;
            count += 1;
        }
        if count < p.min {
            return Err(Fail::at(
                node,
                path.clone(),
                format!(
                    "il faut au moins {} éléments <{}>, il y en a {count}",
                    p.min, p.name
                ),
            ));
        }
        match kids.get(count as usize) {
            None => Ok(()),
            Some(&kid) => Err(Fail::at(
                kid,
                with_kid(tree, path, kid),
                format!("un seul choix est permis ici parmi {}", names()),
            )),
        }
    }

    fn check_child(
        &self,
        tree: &Tree,
        kid: usize,
        p: &Particle,
        count: u32,
        path: &mut Vec<Seg>,
    ) -> Result<(), Fail> {
        let index = (p.max > 1).then_some(count as usize + 1);
        path.push(Seg {
            name: tree.nodes[kid].name.clone(),
            index,
        });
        let result = self.check(tree, kid, p.ty, path);
        path.pop();
        result
    }

    fn check_attrs(
        &self,
        tree: &Tree,
        node: usize,
        decls: &[AttrDecl],
        path: &[Seg],
    ) -> Result<(), Fail> {
        let n = &tree.nodes[node];
        for a in &n.attrs {
            let attr_path = || {
                let mut p = path.to_vec();
                p.push(Seg {
                    name: format!("@{}", a.qname),
                    index: None,
                });
                p
            };
            if tree.ns_is(a.ns, XSI_NS) {
                if a.name == "schemaLocation" || a.name == "noNamespaceSchemaLocation" {
                    continue;
                }
                return Err(Fail::at(
                    node,
                    attr_path(),
                    format!("l'attribut {} n'est pas accepté dans un relevé", a.qname),
                ));
            }
            match decls.iter().find(|d| a.ns.is_none() && d.name == a.name) {
                Some(d) => self
                    .check_value(d.ty, &a.value)
                    .map_err(|msg| Fail::at(node, attr_path(), msg))?,
                None => {
                    return Err(Fail::at(
                        node,
                        attr_path(),
                        format!(
                            "l'attribut « {} » n'est pas permis sur <{}>",
                            a.qname, n.name
                        ),
                    ))
                }
            }
        }
        for d in decls.iter().filter(|d| d.required) {
            if tree.attr(node, &d.name).is_none() {
                let what = if d.name == "Ccy" {
                    " (le code devise, par exemple EUR)"
                } else {
                    ""
                };
                return Err(Fail::at(
                    node,
                    path.to_vec(),
                    format!("il manque l'attribut obligatoire {}{what}", d.name),
                ));
            }
        }
        Ok(())
    }

    fn check_no_children(&self, tree: &Tree, node: usize, path: &[Seg]) -> Result<(), Fail> {
        match tree.nodes[node].children.first() {
            None => Ok(()),
            Some(&kid) => Err(Fail::at(
                kid,
                with_kid(tree, path, kid),
                format!(
                    "<{}> contient une valeur, pas de sous-élément comme <{}>",
                    tree.nodes[node].name, tree.nodes[kid].name
                ),
            )),
        }
    }

    fn check_element_only(&self, tree: &Tree, node: usize, path: &[Seg]) -> Result<(), Fail> {
        let n = &tree.nodes[node];
        let text = n.text.trim_matches(is_xml_space);
        if text.is_empty() && !n.cdata {
            return Ok(());
        }
        Err(Fail::at(
            node,
            path.to_vec(),
            format!(
                "<{}> ne doit contenir que des sous-éléments, pas le texte « {} »",
                n.name,
                shorten(text)
            ),
        ))
    }
}

fn matches_particle(tree: &Tree, node: usize, p: &Particle) -> bool {
    match p.ty {
        Ty::Any => true,
        _ => tree.nodes[node].name == p.name && tree.ns_is(tree.nodes[node].ns, NAMESPACE),
    }
}

/// The elements that could come at this point of a sequence: up to the first required one.
fn expected_here(rest: &[Particle]) -> String {
    const SHOWN: usize = 5;
    let mut names = Vec::new();
    let mut more = false;
    for p in rest {
        if names.len() == SHOWN {
            more = true;
            break;
        }
        names.push(if p.name.is_empty() {
            "un élément".to_string()
        } else {
            format!("<{}>", p.name)
        });
        if p.min > 0 {
            break;
        }
    }
    match names.len() {
        0 => "rien de plus".to_string(),
        1 => names.remove(0),
        _ => format!(
            "l'un de {}{}",
            names.join(", "),
            if more { "…" } else { "" }
        ),
    }
}

fn unexpected(tree: &Tree, kid: usize, path: &[Seg], expected: &str) -> Fail {
    let n = &tree.nodes[kid];
    let msg = if tree.ns_is(n.ns, NAMESPACE) {
        format!(
            "l'élément <{}> n'est pas permis à cet endroit ; attendu : {expected}",
            n.name
        )
    } else {
        let ns = tree.ns_name(n.ns);
        let ns = if ns.is_empty() {
            "sans espace de noms".to_string()
        } else {
            format!("dans l'espace de noms « {} »", shorten(ns))
        };
        format!(
            "l'élément <{}> est {ns} au lieu de « {NAMESPACE} » ; attendu : {expected}",
            n.name
        )
    };
    Fail::at(kid, with_kid(tree, path, kid), msg)
}

fn with_kid(tree: &Tree, path: &[Seg], kid: usize) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg {
        name: tree.nodes[kid].name.clone(),
        index: None,
    });
    p
}

#[derive(Clone)]
struct Seg {
    name: String,
    /// 1-based position among its siblings of that name, for elements that may repeat.
    index: Option<usize>,
}

/// A violation: where and what; turned into a sentence with the path and line.
pub(super) struct Fail {
    node: usize,
    path: Vec<Seg>,
    msg: String,
}

impl Fail {
    fn at(node: usize, path: Vec<Seg>, msg: String) -> Fail {
        Fail { node, path, msg }
    }

    pub(super) fn into_error(self, tree: &Tree, src: &str) -> StatementError {
        let line = line_of(src.as_bytes(), tree.nodes[self.node].pos);
        refuse(format!(
            "Relevé non conforme au schéma camt.053.001.08, {} (ligne {line}) : {}.",
            show_path(&self.path),
            self.msg
        ))
    }
}

/// Stmt[1]/Ntry[3]/Amt: the path below Document/BkToCstmrStmt, which every file shares.
fn show_path(path: &[Seg]) -> String {
    let skip = if path.len() > 2 && path[1].name == "BkToCstmrStmt" {
        2
    } else {
        0
    };
    let shown: Vec<String> = path[skip..]
        .iter()
        .map(|s| match s.index {
            Some(i) => format!("{}[{i}]", s.name),
            None => s.name.clone(),
        })
        .collect();
    if shown.is_empty() {
        "élément racine".to_string()
    } else {
        format!("élément {}", shown.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn refuses_what_the_schema_refuses_and_says_where() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "<GrpHdr><MsgId>RELEVE-20261205</MsgId><CreDtTm>2026-12-05T22:05:00+01:00</CreDtTm></GrpHdr>",
                "",
                &["élément Stmt", "ligne 5", "<GrpHdr>"],
            ),
            (
                "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts><Cd>BOOK</Cd></Sts>",
                "<Sts><Cd>BOOK</Cd></Sts>\n        <CdtDbtInd>CRDT</CdtDbtInd>",
                &["Stmt[1]/Ntry[1]/Sts", "ligne 14", "attendu : <CdtDbtInd>"],
            ),
            (">15000.00</Amt>", ">15O00.00</Amt>", &["Stmt[1]/Ntry[1]/Amt", "15O00.00", "nombre décimal"]),
            ("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>XXX</CdtDbtInd>", &["Stmt[1]/Bal[1]/CdtDbtInd", "CRDT, DBIT"]),
            (
                "<AcctSvcrRef>20261205-0001</AcctSvcrRef>",
                "<AcctSvcrRef>20261205-0001</AcctSvcrRef><Memo>x</Memo>",
                &["Stmt[1]/Ntry[1]/Memo", "<Memo>", "attendu : l'un de <Avlbty>, <BkTxCd>"],
            ),
            ("<Acct><Id>", "<Acct><Nm>X</Nm><Id>", &["Stmt[1]/Acct/Nm", "attendu : <Id>"]),
            ("</Acct>", "<Ccy>EUR</Ccy></Acct>", &["Stmt[1]/Acct/Ccy", "mal placé ou en trop"]),
            ("</Acct>", "<Solde/></Acct>", &["Stmt[1]/Acct/Solde", "n'existe pas dans <Acct>"]),
            ("<Amt Ccy=\"EUR\">15000.00</Amt>", "<Amt>15000.00</Amt>", &["Stmt[1]/Ntry[1]/Amt", "attribut obligatoire Ccy"]),
            ("Ccy=\"EUR\">15000.00", "Ccy=\"euro\">15000.00", &["Stmt[1]/Ntry[1]/Amt/@Ccy", "3 lettres majuscules"]),
            ("<Sts>", "<Sts statut=\"ok\">", &["Stmt[1]/Ntry[1]/Sts/@statut", "n'est pas permis"]),
            ("<Sts><Cd>BOOK", "<Sts>comptabilisé<Cd>BOOK", &["Stmt[1]/Ntry[1]/Sts", "que des sous-éléments"]),
            ("<Dt><Dt>2026-12-05</Dt></Dt>", "<Dt><Dt>2026-12-05</Dt><DtTm>2026-12-05T10:00:00</DtTm></Dt>", &["Stmt[1]/Bal[1]/Dt/DtTm", "un seul choix"]),
            ("<BookgDt><Dt>2026-12-05", "<BookgDt><Dt>2026-02-30", &["Stmt[1]/Ntry[1]/BookgDt/Dt", "2026-02-30", "date valide"]),
            ("<IBAN>FR76", "<IBAN>FR 76", &["Stmt[1]/Acct/Id/IBAN", "IBAN"]),
            ("<AcctSvcrRef>20261205-0001<", "<AcctSvcrRef>ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEF<", &["trop long (36 caractères, au plus 35"]),
            ("<MsgId>RELEVE-20261205</MsgId>", "<MsgId></MsgId>", &["GrpHdr/MsgId", "vide"]),
            ("<SubFmlyCd>ESCT</SubFmlyCd>", "<SubFmlyCd>ESCT1</SubFmlyCd>", &["BkTxCd/Domn/Fmly/SubFmlyCd"]),
            ("<Cd>BOOK</Cd>", "<Cd>BOOK<X/></Cd>", &["Stmt[1]/Ntry[1]/Sts/Cd/X", "pas de sous-élément"]),
            ("<Ntry>", "<Ntry xsi:type=\"x\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">", &["xsi:type"]),
            ("<Stmt>", "<Stmt xmlns=\"urn:other\">", &["<Stmt>", "urn:other", "attendu : <Stmt>"]),
        ];
        for (from, to, parts) in cases {
            let reason = refused(&changed(from, to));
            assert!(
                reason.starts_with("Relevé non conforme au schéma camt.053.001.08, élément "),
                "{reason}"
            );
            assert_mentions(&reason, parts);
            assert!(!reason.contains('\n'), "{reason}");
        }
        let no_bal = SAMPLE
            .lines()
            .filter(|l| !l.contains("<Bal>"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_mentions(
            &refused(&no_bal),
            &["Stmt[1]/Ntry (ligne 9)", "<Intrst>, <Bal>"],
        );
    }
}
