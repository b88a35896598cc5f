//! QR code rendering.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use zeroize::Zeroizing;

/// The SVG of `data`. A URI of a few hundred bytes always fits a QR code at level M; if it
/// ever did not, an SVG holding only the message is returned rather than a panic.
pub(crate) fn svg(data: &str) -> Zeroizing<String> {
    match QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M) {
        Ok(code) => Zeroizing::new(
            code.render::<svg::Color<'_>>()
                .min_dimensions(240, 240)
                .dark_color(svg::Color("#000000"))
                .light_color(svg::Color("#ffffff"))
                .quiet_zone(true)
                .build(),
        ),
        Err(_) => Zeroizing::new(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><text y=\"20\">too long for a QR code</text></svg>"
                .to_owned(),
        ),
    }
}
