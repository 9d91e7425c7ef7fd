//! What the tests of every part share: a statement made by hand, valid (xmllint), and ways
//! to change it and to read a refusal.

use super::{parse, Transaction};

/// A day of the platform's account: a funding received, a SEPA batch sent, one of its
/// transfers sent back, and a credit with a structured reference. Valid (xmllint).
pub(super) const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>RELEVE-20261205</MsgId><CreDtTm>2026-12-05T22:05:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20261205-1</Id>
      <CreDtTm>2026-12-05T22:05:00+01:00</CreDtTm>
      <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">123.4</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2026-12-05</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">14951.60</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><DtTm>2026-12-05T23:59:59</DtTm></Dt></Bal>
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="EUR">15000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <ValDt><Dt>2026-12-05</Dt></ValDt>
        <AcctSvcrRef>20261205-0001</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>CONV-2026-0042</EndToEndId></Refs>
          <Amt Ccy="EUR">15000.00</Amt>
          <CdtDbtInd>CRDT</CdtDbtInd>
          <RltdPties><Dbtr><Pty><Nm>REGION OCCITANIE</Nm></Pty></Dbtr></RltdPties>
          <RmtInf><Ustrd>CONV-2026-0042 Région &amp; GIP</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>2</NtryRef>
        <Amt Ccy="EUR">75.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <AcctSvcrRef>20261205-0002</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <Btch><MsgId>PASSNUM-2026-11</MsgId><PmtInfId>PASSNUM-2026-11-1</PmtInfId><NbOfTxs>2</NbOfTxs></Btch>
          <TxDtls><Refs><EndToEndId>PN-S12-2611</EndToEndId></Refs><Amt Ccy="EUR">50</Amt><CdtDbtInd>DBIT</CdtDbtInd>
            <RltdPties><Cdtr><Pty><Nm>Médiathèque de Lodève</Nm></Pty></Cdtr></RltdPties></TxDtls>
          <TxDtls><Refs><MsgId>PASSNUM-2026-11</MsgId><EndToEndId>PN-S17-2611</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">25.00</Amt></TxAmt></AmtDtls></TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">25.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <AcctSvcrRef>20261205-0003</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>RRTN</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>PN-S17-2611</EndToEndId></Refs>
          <Amt Ccy="EUR">25.00</Amt>
          <CdtDbtInd>CRDT</CdtDbtInd>
          <RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>COMPTE</AddtlInf><AddtlInf>CLOTURE</AddtlInf></RtrInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">0.1</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>PDNG</Cd></Sts>
        <ValDt><DtTm>2026-12-06T08:00:00Z</DtTm></ValDt>
        <BkTxCd/>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RmtInf><Ustrd>LIBRE</Ustrd><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#;

pub(super) fn tx() -> Transaction {
    Transaction {
        cents: None,
        message_id: None,
        payment_info_id: None,
        instruction_id: None,
        end_to_end_id: None,
        remittance: vec![],
        return_reason: None,
        return_info: None,
        counterparty: None,
    }
}

pub(super) fn owned(s: &str) -> Option<String> {
    Some(s.to_string())
}

pub(super) fn refused(xml: &str) -> String {
    match parse(xml.as_bytes()) {
        Ok(doc) => panic!("accepted: {doc:?}"),
        Err(e) => e.reason,
    }
}

/// SAMPLE with one replacement, which must apply.
pub(super) fn changed(from: &str, to: &str) -> String {
    assert!(SAMPLE.contains(from), "{from} not in the sample");
    SAMPLE.replacen(from, to, 1)
}

pub(super) fn assert_mentions(reason: &str, parts: &[&str]) {
    for part in parts {
        assert!(reason.contains(part), "« {part} » missing from: {reason}");
    }
}
