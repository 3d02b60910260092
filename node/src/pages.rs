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

/// The console's script (the class preview, the roster's progress).
pub const CONSOLE_JS: &[u8] = include_bytes!("../../web/dist/console.js");
/// The console's style sheet.
pub const CONSOLE_CSS: &[u8] = include_bytes!("../../web/dist/console.css");

const SHELL: &str = include_str!("../../web/templates/shell.html");

/// The console's pages, by name.
const CONSOLE_TEMPLATES: [(&str, &str); 11] = [
    (
        "layout.html",
        include_str!("../../web/templates/console/layout.html"),
    ),
    (
        "error.html",
        include_str!("../../web/templates/console/error.html"),
    ),
    (
        "sign-in.html",
        include_str!("../../web/templates/console/sign-in.html"),
    ),
    (
        "home.html",
        include_str!("../../web/templates/console/home.html"),
    ),
    (
        "classes.html",
        include_str!("../../web/templates/console/classes.html"),
    ),
    (
        "class.html",
        include_str!("../../web/templates/console/class.html"),
    ),
    (
        "roster.html",
        include_str!("../../web/templates/console/roster.html"),
    ),
    (
        "credentials.html",
        include_str!("../../web/templates/console/credentials.html"),
    ),
    (
        "credential.html",
        include_str!("../../web/templates/console/credential.html"),
    ),
    (
        "confirm.html",
        include_str!("../../web/templates/console/confirm.html"),
    ),
    (
        "analytics.html",
        include_str!("../../web/templates/console/analytics.html"),
    ),
];

/// The assets' version, in their URLs: a page names exactly the code it was
/// made with, which can be cached for good.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(CAIRN_JS)
        .chain_update(CAIRN_CSS)
        .chain_update(CONSOLE_JS)
        .chain_update(CONSOLE_CSS)
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

/// `console.js`, plain and gzipped.
pub static CONSOLE_SCRIPT: LazyLock<Asset> = LazyLock::new(|| Asset {
    plain: CONSOLE_JS,
    gzipped: gzipped(CONSOLE_JS),
});

/// `console.css`, plain and gzipped.
pub static CONSOLE_STYLE: LazyLock<Asset> = LazyLock::new(|| Asset {
    plain: CONSOLE_CSS,
    gzipped: gzipped(CONSOLE_CSS),
});

static CONSOLE: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    for (name, text) in CONSOLE_TEMPLATES {
        env.add_template(name, text)
            .expect("the console's templates are valid");
    }
    env
});

/// A console page: `template` filled from `ctx` (escaped as HTML).
pub fn console(template: &str, ctx: &serde_json::Value) -> String {
    CONSOLE
        .get_template(template)
        .and_then(|t| t.render(jinja(ctx)))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, template, "a console page failed to render");
            format!(
                "<!doctype html><title>error</title><p>{}",
                html_escape(&e.to_string())
            )
        })
}

/// `v` as the template engine's value. Numbers are converted by hand:
/// serde_json keeps them as text here (`arbitrary_precision`, so a
/// credential's `3.0` stays `3.0`), which the engine would see as maps.
fn jinja(v: &serde_json::Value) -> minijinja::Value {
    use serde_json::Value as J;
    match v {
        J::Null => minijinja::Value::from(()),
        J::Bool(b) => minijinja::Value::from(*b),
        J::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => minijinja::Value::from(u),
            (_, Some(i), _) => minijinja::Value::from(i),
            (_, _, Some(f)) => minijinja::Value::from(f),
            _ => minijinja::Value::from(n.to_string()),
        },
        J::String(s) => minijinja::Value::from(s.as_str()),
        J::Array(items) => items.iter().map(jinja).collect(),
        J::Object(map) => minijinja::Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), jinja(v)))
                .collect::<std::collections::BTreeMap<String, minijinja::Value>>(),
        ),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

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
    fn every_console_page_renders_and_escapes() {
        let counts = json!({"pageViews": 1, "verificationsInPage": 0, "verificationsApi": 0,
            "downloadsPng": 1, "downloadsSvg": 0, "downloadsJson": 0, "downloadsBundle": 0,
            "sharesLinkedIn": 0, "sharesCopyLink": 0, "walletClaims": 0});
        let mut day = counts.clone();
        day["day"] = json!("2026-12-01");
        let mut class = counts.clone();
        class["achievement"] = json!("h");
        class["name"] = json!("Nurse");
        let mut ctx = json!({
            "title": "<script>x</script>", "issuer": "Board", "role": "admin", "csrf": "tok",
            "may_issue": true, "may_admin": true, "nav": "home", "version": "v",
            "detail": "no", "field": "name"});
        let more = json!({
            "expiring": {"d30": 1, "d60": 2, "d90": 3, "soonest": [{"id": "urn:a", "href": "/x", "until": "2026-12-31"}]},
            "queued": 0, "waiting": [{"number": 1, "leaves": 2, "sealed": "t"}],
            "failed": [{"sink": "mail", "event": "issued", "credential": "urn:a", "href": "/x", "attempts": 2, "error": "refused"}],
            "chain": {"connected": true, "dev": true, "chain": "eip155:1", "account": "0x0", "balance": "1.0",
                      "anchorCost": "0.1", "nextCost": "0.1", "next": 1, "anchorsLeft": "10", "low": false},
            "classes": [{"handle": "h", "name": "Nurse", "version": 1, "image": "/i", "retired": null}],
            "class": {"texts": [{"lang": "en", "name": "N", "description": "D", "criteria": "C"}],
                      "multilingual": true, "achievementType": "Badge", "validFor": "P1Y", "version": 1, "image": "/i"},
            "handle": "h", "url": "https://x/achievements/h", "saved": true,
            "file": "r.csv", "rows": 2, "good": 1, "bad": [{"line": 3, "reason": "recipient: no"}],
            "columns": [{"index": 0, "header": "Email"}], "fields": [{"name": "recipient", "column": 0}],
            "found": [{"id": "urn:a", "href": "/x", "name": "N", "recipient": {"email": "a@b.org"}, "status": "active"}],
            "searched": true, "more": "after=urn%3Aa",
            "status": "suspended", "recipient": {"name": "Ada", "email": "a@b.org", "did": null},
            "share": "https://x/b/s", "batch": {"number": 1, "leaves": 2, "root": "ab", "anchor": {"transaction": "0x1", "block": 2, "chain": "eip155:1"}},
            "history": [{"status": "suspended", "at": "t", "reason": "why"}], "award": {"state": "open"},
            "counts": counts, "path": "/console/credentials/urn%3Aa", "reason": "why",
            "report": {"from": "2026-12-01", "to": "2026-12-01", "totals": counts, "days": [day],
                       "achievements": [class], "credentials": []},
            "top": [{"id": "urn:a", "href": "/x", "counts": counts}],
            "bars": [{"x": 0, "day": "2026-12-01", "views": 1, "downloads": 1, "vh": 100, "dh": 100}],
            "chartWidth": 16, "peak": 1, "csv": "/console/analytics.csv",
        });
        if let (Some(c), serde_json::Value::Object(m)) = (ctx.as_object_mut(), more) {
            c.extend(m);
        }
        for (name, _) in CONSOLE_TEMPLATES {
            let html = console(name, &ctx);
            assert!(!html.contains("<title>error</title>"), "{name}: {html}");
            assert!(!html.contains("<script>x"), "{name} does not escape");
        }
        let mut roster = ctx.clone();
        roster["id"] = json!("r1");
        roster["held"] = json!([{"line": 4, "id": "<script>x", "href": "/x"}]);
        let html = console("roster.html", &roster);
        assert!(
            html.contains("line") || html.contains("<td>3</td>"),
            "{html}"
        );
        assert!(html.contains("1 already hold this badge"), "{html}");
        assert!(!html.contains("<script>x"), "held rows are escaped");
        roster["progress"] = json!({"total": 2, "done": 1, "failed": 0, "finished": false});
        assert!(console("roster.html", &roster).contains("<progress"));
    }

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
                picture: None,
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
                picture: None,
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
