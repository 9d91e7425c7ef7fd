//! A carnet as printed: the PDF a distributor prints or e-mails, one tear-off block per cheque.

use super::Printable;
use crate::fr::{euros, long_date_text};
use crate::mail::Letterhead;
use crate::pdf::{Carnet, CarnetCheque};

/// Only the cheques that can still be used are printed: a reprint never shows spent ones.
pub fn carnet(printable: &Printable, l: &Letterhead) -> Carnet {
    let pass = &printable.pass;
    let expires_on = long_date_text(&pass.expires_on);
    Carnet {
        pass_code: pass.pass_code.clone(),
        programme: printable.programme.clone(),
        distributor: printable.distributor.clone(),
        accepted_in: printable.accepted_in.clone(),
        cheques: pass
            .vouchers
            .iter()
            .filter(|v| v.status.is_unused())
            .filter_map(|v| {
                Some(CarnetCheque {
                    code: v.code.clone(),
                    qr_payload: v.qr_payload.clone()?,
                    value: format!("{} €", euros(v.value_cents)),
                    expires_on: expires_on.clone(),
                })
            })
            .collect(),
        helpline_phone: l.helpline_phone.clone(),
        helpline_email: l.helpline_email.clone(),
        public_url: l.public_url.clone(),
        feedback_url: format!("{}/avis/{}", l.public_url, pass.pass_code),
    }
}

pub fn carnet_pdf(printable: &Printable, l: &Letterhead) -> Vec<u8> {
    carnets_pdf(std::slice::from_ref(printable), l)
}

/// Several carnets in one document (a file of carnets), each starting on its own page.
pub fn carnets_pdf(printables: &[Printable], l: &Letterhead) -> Vec<u8> {
    let carnets: Vec<Carnet> = printables.iter().map(|p| carnet(p, l)).collect();
    crate::pdf::carnets(&carnets)
}
