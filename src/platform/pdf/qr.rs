//! QR codes as 8-bit gray images for the cheques, built by the `qrcode` crate (level M; a
//! cheque payload, upper-case alphanumeric, fits the compact alphanumeric mode: version 3 for
//! PN1, 6 or 7 for the offline PN2 with its Ed25519 signature).
//! The crate's mask selection costs about 0.3 ms a code: 3 s for a bulk print of 1,000
//! carnets of 10, within the 10 s target, so it is used as it is.

use qrcode::types::Color;
use qrcode::{EcLevel, QrCode};

/// The blank border every QR reader expects, in modules.
pub(crate) const QUIET_ZONE: usize = 4;

/// The QR code as gray samples, one byte per module, black 0 and white 255, quiet zone
/// included: returns (side, samples). None only if the payload exceeds version 40.
pub(crate) fn gray_image(payload: &str) -> Option<(usize, Vec<u8>)> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let side = width + 2 * QUIET_ZONE;
    let mut samples = vec![255u8; side * side];
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (i % width, i / width);
            samples[(y + QUIET_ZONE) * side + x + QUIET_ZONE] = 0;
        }
    }
    Some((side, samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(side: usize, samples: &[u8]) -> Option<String> {
        const SCALE: usize = 4;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side * SCALE, side * SCALE, |x, y| {
                samples[(y / SCALE) * side + x / SCALE]
            });
        let grids = image.detect_grids();
        let (_, content) = grids.first()?.decode().ok()?;
        Some(content)
    }

    #[test]
    fn cheque_payload_is_compact_and_scans() {
        let payload = "PN1.K1.ABCDEFGHJK12.ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let (side, samples) = gray_image(payload).expect("fits");
        // 46 alphanumeric characters fit version 3 (29 modules) at level M; byte mode would
        // need version 4.
        assert_eq!(side, 29 + 2 * QUIET_ZONE);
        assert_eq!(samples.len(), side * side);
        // The quiet zone is white and the top-left finder starts right after it.
        assert!(samples[..side * QUIET_ZONE].iter().all(|&s| s == 255));
        assert_eq!(samples[QUIET_ZONE * side + QUIET_ZONE], 0);
        assert_eq!(samples[QUIET_ZONE * side + QUIET_ZONE - 1], 255);
        assert_eq!(scan(side, &samples).as_deref(), Some(payload));
    }

    #[test]
    fn varied_payloads_scan() {
        // Varied lengths give varied versions and masks; lower case needs the byte mode.
        for i in 0..64 {
            let payload = format!("PN1.K{}.{}", i % 3, "X7Q.".repeat(i % 19 + 1));
            let (side, samples) = gray_image(&payload).expect("fits");
            assert_eq!(
                scan(side, &samples).as_deref(),
                Some(payload.as_str()),
                "{i}"
            );
        }
        let lower = "https://passnum.example/avis";
        let (side, samples) = gray_image(lower).expect("fits");
        assert_eq!(scan(side, &samples).as_deref(), Some(lower));
    }

    #[test]
    fn long_payloads_scan() {
        let payload = "PN1.".repeat(100);
        let (side, samples) = gray_image(&payload).expect("fits");
        assert_eq!(scan(side, &samples).as_deref(), Some(payload.as_str()));
    }
}
