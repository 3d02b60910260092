//! The public pages' HTML: one shell (`web/templates/shell.html`) that
//! carries a page's data as JSON and its link preview, and the browser code
//! (`web/dist`, built from `web/src` and committed) that renders and
//! verifies it in the reader's browser.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use crate::published::{Head, PageData};

/// The browser code, as `web/build` wrote it.
pub const CAIRN_JS: &[u8] = include_bytes!("../../web/dist/cairn.js");
/// The pages' style sheet.
pub const CAIRN_CSS: &[u8] = include_bytes!("../../web/dist/cairn.css");

const SHELL: &str = include_str!("../../web/templates/shell.html");

/// The assets' version, in their URLs: a page names exactly the code it was
/// made with, which can be cached for good.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(CAIRN_JS)
        .chain_update(CAIRN_CSS)
        .finalize();
    hex::encode(&digest[..6])
});

/// An asset gzipped once (about a quarter of the bytes, for browsers that
/// take it: all of them).
pub struct Asset {
    pub plain: &'static [u8],
    pub gzipped: Vec<u8>,
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// `cairn.js`, plain and gzipped.
pub static JS: LazyLock<Asset> = LazyLock::new(|| Asset {
    plain: CAIRN_JS,
    gzipped: gzipped(CAIRN_JS),
});

/// `cairn.css`, plain and gzipped.
pub static CSS: LazyLock<Asset> = LazyLock::new(|| Asset {
    plain: CAIRN_CSS,
    gzipped: gzipped(CAIRN_CSS),
});

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.add_template("shell.html", SHELL)
        .expect("web/templates/shell.html is a valid template");
    env
});

/// The HTML of a page: `head` for link previews, `data` for the browser
/// code. The template engine escapes the head; the data is
/// [`script_json`].
pub fn render(data: &PageData, head: &Head) -> String {
    let shell = TEMPLATES
        .get_template("shell.html")
        .expect("the shell is added above");
    shell
        .render(minijinja::context! {
            lang => head.lang.as_str(),
            title => head.title.as_str(),
            description => head.description.as_str(),
            url => head.url.as_str(),
            image => head.image.as_str(),
            version => ASSET_VERSION.as_str(),
            data => minijinja::Value::from_safe_string(script_json(data)),
        })
        .unwrap_or_else(|e| format!("<!doctype html><title>error</title><p>{e}"))
}

/// `data` as JSON that can sit inside a `<script>` element: serde_json's
/// own text (numbers exactly as stored, `3.0` stays `3.0`, which the
/// signature covers), with `<`, `>` and `&`, which occur only inside JSON
/// strings, written as `\u` escapes so nothing can close the element.
fn script_json(data: &PageData) -> String {
    serde_json::to_string(data)
        .expect("page data serializes")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Pixels per QR module, and modules of quiet zone around the code.
const QR_SCALE: usize = 6;
const QR_QUIET: usize = 4;

/// `text` as a QR code in a PNG (black on white, error correction M):
/// what a phone's wallet scans off the claim page.
pub fn qr_png(text: &str) -> Result<Vec<u8>, String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QR_QUIET) * QR_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % modules + QR_QUIET, i / modules + QR_QUIET);
            for y in my * QR_SCALE..(my + 1) * QR_SCALE {
                pixels[y * side + mx * QR_SCALE..y * side + (mx + 1) * QR_SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The verify page's `<head>`.
pub fn verify_head() -> Head {
    Head {
        title: "Verify a credential".into(),
        description: "Check a badge or credential in your browser against the public chain; nothing is uploaded.".into(),
        lang: "en".into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::published::{Downloads, PageChain};
    use serde_json::json;

    #[test]
    fn the_shell_escapes_what_the_credential_says() {
        let data = PageData::Badge {
            chain: PageChain::default(),
            credential: json!({"name": "</script><script>alert(1)</script>"}),
            share_url: "https://n/b/s".into(),
            downloads: Downloads {
                png: None,
                svg: None,
                json: "/b/s/credential.json".into(),
                bundle: None,
            },
            endorsements: vec![],
        };
        let head = Head {
            title: "A \"quoted\" <b>name</b>".into(),
            description: "x' onload='y".into(),
            url: "https://n/b/s".into(),
            image: String::new(),
            lang: "en".into(),
        };
        let html = render(&data, &head);
        assert!(!html.contains("</script><script>"), "{html}");
        assert!(!html.contains("<b>name"), "{html}");
        assert!(!html.contains("x' onload"), "{html}");
        assert!(html.contains("og:title"), "{html}");
        let json_start = html.find("id=\"cairn-page\">").unwrap() + 16;
        let json_end = html[json_start..].find("</script>").unwrap() + json_start;
        let back: serde_json::Value = serde_json::from_str(&html[json_start..json_end]).unwrap();
        assert_eq!(
            back["credential"]["name"],
            "</script><script>alert(1)</script>"
        );
        assert!(html.contains(&format!("/assets/cairn.js?v={}", *ASSET_VERSION)));
        // Numbers as signed: a double stays one, the signature covers it.
        let data = PageData::Badge {
            chain: PageChain::default(),
            credential: json!({"credits": 3.0, "block": 7, "big": 18446744073709551615u64}),
            share_url: String::new(),
            downloads: Downloads {
                png: None,
                svg: None,
                json: String::new(),
                bundle: None,
            },
            endorsements: vec![],
        };
        let html = render(&data, &head);
        assert!(
            html.contains(r#"{"big":18446744073709551615,"block":7,"credits":3.0}"#),
            "{html}"
        );
    }
}
