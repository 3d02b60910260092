//! Badge images: checking an uploaded PNG or SVG, and baking a credential
//! into one and out of it, as Open Badges 3.0 defines baking.
//!
//! - PNG: one uncompressed `iTXt` chunk with keyword `openbadgecredential`,
//!   placed before the first `IDAT` so that readers that stop at the image
//!   data still find it. Every other chunk is copied byte for byte: the
//!   image is never re-encoded.
//! - SVG: an `openbadges:credential` element in the OB 3.0 namespace right
//!   after the root `svg` start tag, the JSON in CDATA. The rest of the file
//!   is copied byte for byte (the root tag gains the namespace declaration
//!   when it lacks it).
//!
//! Baking writes the JSON with braces and `>` inside strings escaped
//! (`\u007b`, `\u007d`, `\u003e`): wallets such as the Learner Credential
//! Wallet find a baked credential by counting braces, and CDATA cannot hold
//! `]]>`. Every other character, UTF-8 included, is written as it is.
//! Baking an image that holds a credential replaces it.

use std::borrow::Cow;
use std::io::Write;

use png::text_metadata::EncodableTextChunk;
use quick_xml::events::{BytesCData, BytesEnd, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde_json::Value;

/// The keyword of the PNG `iTXt` chunk that holds a baked credential.
pub const PNG_KEYWORD: &str = "openbadgecredential";
/// The Open Badges 3.0 XML namespace of the SVG `credential` element.
pub const OB_NAMESPACE: &str = "https://purl.imsglobal.org/ob/v3p0";
const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";
const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// The largest image a badge class may have, in bytes.
pub const MAX_IMAGE_BYTES: usize = 1 << 20;
/// The largest width or height of a badge image, in pixels.
pub const MAX_DIMENSION: u32 = 2048;
/// The largest width or height of a baked badge read back (others' badges
/// need not keep Cairn's upload limit; rows are decoded one at a time).
pub const MAX_BAKED_DIMENSION: u32 = 16384;
/// The largest baked image read back (an image with its credential).
pub const MAX_BAKED_BYTES: usize = MAX_IMAGE_BYTES + (4 << 20);
/// What decoding a PNG may allocate.
const PNG_DECODE_LIMIT: usize = 64 << 20;

/// A badge image's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// `image/png`
    Png,
    /// `image/svg+xml`
    Svg,
}

impl ImageKind {
    /// The media type a node serves the image with.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Svg => "image/svg+xml",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Svg => "svg",
        }
    }
}

/// What is wrong with an image, or why a credential cannot be baked into
/// it or read out of it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// Over [`MAX_IMAGE_BYTES`] (or, read back, [`MAX_BAKED_BYTES`]).
    #[error("the image is {0} bytes; at most {MAX_IMAGE_BYTES} are accepted")]
    TooLarge(usize),
    /// Neither a PNG nor an SVG.
    #[error("not a PNG or SVG image")]
    NotAnImage,
    /// A PNG that does not decode.
    #[error("not a valid PNG: {0}")]
    Png(String),
    /// An SVG that does not parse, or has no dimensions.
    #[error("not a valid SVG: {0}")]
    Svg(String),
    /// An SVG that could run script or load something when displayed.
    #[error("the SVG is refused: {0}")]
    Unsafe(String),
    #[error("the image is {width} x {height} pixels; at most {MAX_DIMENSION} x {MAX_DIMENSION} are accepted")]
    /// Wider or higher than [`MAX_DIMENSION`], or empty.
    Dimensions {
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
    },
    /// A `data:` URL that does not decode or says another media type.
    #[error("a data: URL: {0}")]
    DataUrl(String),
    /// Nothing baked in.
    #[error("the image holds no baked credential")]
    NoCredential,
    /// More than one credential baked in: which one counts is unclear.
    #[error("the image holds {0} baked credentials; a baked badge holds one")]
    SeveralCredentials(usize),
    /// The baked text is not a JSON credential (a JWT, say).
    #[error("the baked credential is not a JSON object: {0}")]
    Json(String),
}

/// A checked badge image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    /// PNG or SVG.
    pub kind: ImageKind,
    /// Pixels; an SVG's when its root gives them.
    pub width: Option<u32>,
    /// Pixels down, when known.
    pub height: Option<u32>,
}

/// The image's format from its first bytes (an SVG's root element is
/// confirmed by [`check`]).
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(PNG_SIGNATURE) {
        return Some(ImageKind::Png);
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    (text[start] == b'<').then_some(ImageKind::Svg)
}

/// Checks an image for a badge class: its size, that it decodes (every
/// PNG row; the whole SVG document), its dimensions, and that an SVG can
/// neither run script nor load anything from elsewhere when displayed.
pub fn check(bytes: &[u8]) -> Result<CheckedImage, ImageError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge(bytes.len()));
    }
    let checked = match sniff(bytes).ok_or(ImageError::NotAnImage)? {
        ImageKind::Png => {
            let (width, height, _) = read_png(bytes, MAX_DIMENSION)?;
            CheckedImage {
                kind: ImageKind::Png,
                width: Some(width),
                height: Some(height),
            }
        }
        ImageKind::Svg => check_svg(svg_text(bytes)?)?,
    };
    if let (Some(w), Some(h)) = (checked.width, checked.height) {
        if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
            return Err(ImageError::Dimensions {
                width: w,
                height: h,
            });
        }
    }
    Ok(checked)
}

/// Decodes an image given as a `data:` URL; the format is sniffed from the
/// bytes and must agree with the declared media type.
pub fn from_data_url(url: &str) -> Result<(Vec<u8>, ImageKind), ImageError> {
    let data =
        data_url::DataUrl::process(url).map_err(|e| ImageError::DataUrl(format!("{e:?}")))?;
    let declared = format!("{}/{}", data.mime_type().type_, data.mime_type().subtype);
    // Bounded before decoding: base64 takes 4 bytes for 3.
    if url.len() > MAX_IMAGE_BYTES / 3 * 4 + 1024 {
        return Err(ImageError::TooLarge(url.len() / 4 * 3));
    }
    let (bytes, _) = data
        .decode_to_vec()
        .map_err(|e| ImageError::DataUrl(format!("bad base64: {e:?}")))?;
    let kind = sniff(&bytes).ok_or(ImageError::NotAnImage)?;
    if declared != kind.media_type() {
        return Err(ImageError::DataUrl(format!(
            "declared {declared}, but the bytes are {}",
            kind.media_type()
        )));
    }
    Ok((bytes, kind))
}

/// The credential as baking writes it: compact JSON with `{`, `}` and `>`
/// escaped inside strings.
pub fn baking_json(credential: &Value) -> String {
    struct Escaping;
    impl serde_json::ser::Formatter for Escaping {
        fn write_string_fragment<W: ?Sized + Write>(
            &mut self,
            writer: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            let bytes = fragment.as_bytes();
            let mut start = 0;
            for (i, b) in bytes.iter().enumerate() {
                let escaped: &[u8] = match b {
                    b'{' => b"\\u007b",
                    b'}' => b"\\u007d",
                    b'>' => b"\\u003e",
                    _ => continue,
                };
                writer.write_all(&bytes[start..i])?;
                writer.write_all(escaped)?;
                start = i + 1;
            }
            writer.write_all(&bytes[start..])
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Escaping);
    serde::Serialize::serialize(credential, &mut ser).expect("a JSON value serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Bakes `credential` into a PNG or SVG image, replacing any credential
/// baked in before. A PNG is decoded whole first, so a corrupt one is
/// refused rather than baked.
pub fn bake(image: &[u8], credential: &Value) -> Result<Vec<u8>, ImageError> {
    if sniff(image) == Some(ImageKind::Png) {
        if image.len() > MAX_BAKED_BYTES {
            return Err(ImageError::TooLarge(image.len()));
        }
        read_png(image, MAX_DIMENSION)?;
    }
    bake_checked(image, credential)
}

/// [`bake`] for an image that passed [`check`] already (a node's class
/// image): a PNG's rows are not decoded again, which is nearly all of the
/// work.
pub fn bake_checked(image: &[u8], credential: &Value) -> Result<Vec<u8>, ImageError> {
    let json = baking_json(credential);
    match sniff(image).ok_or(ImageError::NotAnImage)? {
        ImageKind::Png => bake_png(image, &json),
        ImageKind::Svg => bake_svg(svg_text(image)?, &json),
    }
}

/// Reads the credential baked into a PNG or SVG image. Exactly one must be
/// there.
pub fn unbake(image: &[u8]) -> Result<Value, ImageError> {
    if image.len() > MAX_BAKED_BYTES {
        return Err(ImageError::TooLarge(image.len()));
    }
    let texts = match sniff(image).ok_or(ImageError::NotAnImage)? {
        ImageKind::Png => {
            // Counted before any is inflated: each may be compressed.
            let mut chunks = read_png(image, MAX_BAKED_DIMENSION)?.2;
            match chunks.len() {
                1 => {
                    let png = |e: png::DecodingError| ImageError::Png(e.to_string());
                    let chunk = &mut chunks[0];
                    chunk
                        .decompress_text_with_limit(MAX_BAKED_BYTES)
                        .map_err(png)?;
                    vec![chunk.get_text().map_err(png)?]
                }
                n => vec![String::new(); n],
            }
        }
        ImageKind::Svg => svg_credentials(svg_text(image)?)?,
    };
    let text = match texts.len() {
        0 => return Err(ImageError::NoCredential),
        1 => &texts[0],
        n => return Err(ImageError::SeveralCredentials(n)),
    };
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ImageError::Json("not an object".into())),
        Err(e) => Err(ImageError::Json(e.to_string())),
    }
}

// --- PNG -----------------------------------------------------------------

/// Decodes a whole PNG (every row, so a corrupt image fails here, not in a
/// reader's browser): its width, height and baked credential texts.
fn read_png(
    bytes: &[u8],
    max_dimension: u32,
) -> Result<(u32, u32, Vec<png::text_metadata::ITXtChunk>), ImageError> {
    let png = |e: png::DecodingError| ImageError::Png(e.to_string());
    let decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: PNG_DECODE_LIMIT,
        },
    );
    let mut reader = decoder.read_info().map_err(png)?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width > max_dimension || height > max_dimension {
        return Err(ImageError::Dimensions { width, height });
    }
    while reader.next_row().map_err(png)?.is_some() {}
    reader.finish().map_err(png)?;
    let credentials = reader
        .info()
        .utf8_text
        .iter()
        .filter(|c| c.keyword == PNG_KEYWORD)
        .cloned()
        .collect();
    Ok((width, height, credentials))
}

/// One chunk of a PNG: its type and where its bytes (length to CRC) lie.
struct Chunk {
    kind: [u8; 4],
    start: usize,
    end: usize,
    data: std::ops::Range<usize>,
}

/// The chunks of a PNG, as byte ranges, so that baking can copy them
/// untouched. Only lengths are read here; whether the chunks make an image
/// is `png`'s to say ([`check`], [`bake`]).
fn png_chunks(bytes: &[u8]) -> Result<Vec<Chunk>, ImageError> {
    let mut chunks = Vec::new();
    let mut at = PNG_SIGNATURE.len();
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 8)
            .ok_or_else(|| ImageError::Png("a truncated chunk".into()))?;
        let len = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = header[4..8].try_into().expect("4 bytes");
        let end = at
            .checked_add(12 + len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| ImageError::Png("a chunk runs past the end".into()))?;
        chunks.push(Chunk {
            kind,
            start: at,
            end,
            data: at + 8..at + 8 + len,
        });
        at = end;
        if &kind == b"IEND" {
            break;
        }
    }
    Ok(chunks)
}

fn bake_png(image: &[u8], json: &str) -> Result<Vec<u8>, ImageError> {
    let mut chunk = Vec::with_capacity(json.len() + 40);
    png::text_metadata::ITXtChunk::new(PNG_KEYWORD, json)
        .encode(&mut chunk)
        .map_err(|e| ImageError::Png(e.to_string()))?;
    let mut out = Vec::with_capacity(image.len() + chunk.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut placed = false;
    for c in png_chunks(image)? {
        let is_credential = &c.kind == b"iTXt" && {
            let data = &image[c.data.clone()];
            data.split(|&b| b == 0).next() == Some(PNG_KEYWORD.as_bytes())
        };
        if is_credential {
            continue;
        }
        if !placed && (&c.kind == b"IDAT" || &c.kind == b"IEND") {
            out.extend_from_slice(&chunk);
            placed = true;
        }
        out.extend_from_slice(&image[c.start..c.end]);
    }
    if !placed {
        return Err(ImageError::Png("no image data (IDAT) or end (IEND)".into()));
    }
    Ok(out)
}

// --- SVG -----------------------------------------------------------------

fn svg_text(bytes: &[u8]) -> Result<&str, ImageError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| ImageError::Svg("not UTF-8".into()))
}

fn xml_error(e: impl std::fmt::Display) -> ImageError {
    ImageError::Svg(e.to_string())
}

fn is_ob_credential(ns: &ResolveResult, e: &BytesStart) -> bool {
    matches!(ns, ResolveResult::Bound(n) if n.as_ref() == OB_NAMESPACE)
        && e.local_name().as_ref() == "credential"
}

/// Elements that run script, embed other documents or load from elsewhere
/// (HTML's among them: inlined into a page, an SVG's `<img>` is HTML's).
const UNSAFE_ELEMENTS: [&str; 16] = [
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "handler",
    "listener",
    "audio",
    "video",
    "source",
    "track",
    "img",
    "picture",
    "link",
    "meta",
    "base",
];

/// Whether a reference stays inside the document (`#id`) or is an
/// embedded raster image.
fn is_local_reference(target: &str) -> bool {
    let t = target.trim();
    let lower = t.to_ascii_lowercase();
    t.starts_with('#')
        || ["png", "jpeg", "gif", "webp"]
            .iter()
            .any(|f| lower.starts_with(&format!("data:image/{f}")))
}

/// Refuses CSS that loads from elsewhere: `@import`, and `url(...)` not
/// pointing inside the document.
fn check_css(css: &str, at: &str) -> Result<(), ImageError> {
    let lower = css.to_ascii_lowercase();
    // A CSS escape can spell any word (`\75 rl(`); a badge needs none.
    if lower.contains('\\') {
        return Err(ImageError::Unsafe(format!("{at} has a CSS escape")));
    }
    if lower.contains("@import")
        || lower.contains("expression(")
        || lower.contains("image-set(")
        || lower.contains("src(")
    {
        return Err(ImageError::Unsafe(format!(
            "{at} imports CSS or runs an expression"
        )));
    }
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("url(") {
        rest = &rest[i + 4..];
        let target = rest.trim_start().trim_start_matches(['"', '\'']);
        if !is_local_reference(target) {
            return Err(ImageError::Unsafe(format!(
                "{at} refers to something outside the image (url(...))"
            )));
        }
    }
    Ok(())
}

fn check_element(e: &BytesStart) -> Result<(), ImageError> {
    let name = e.local_name().as_ref().to_ascii_lowercase();
    if UNSAFE_ELEMENTS.contains(&name.as_str()) {
        return Err(ImageError::Unsafe(format!("it holds a <{name}> element")));
    }
    for attr in e.attributes().with_checks(true) {
        let attr = attr.map_err(xml_error)?;
        let key = attr.key.local_name().as_ref().to_ascii_lowercase();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(xml_error)?;
        let lower = value.to_ascii_lowercase();
        if key.starts_with("on") {
            return Err(ImageError::Unsafe(format!(
                "<{name}> has an event handler ({key})"
            )));
        }
        if lower.contains("javascript:") {
            return Err(ImageError::Unsafe(format!("<{name} {key}> runs script")));
        }
        if (key == "href" || key == "src") && !is_local_reference(&value) {
            return Err(ImageError::Unsafe(format!(
                "<{name}> refers to something outside the image ({key}=\"{value}\")"
            )));
        }
        if key == "attributename" && (lower.ends_with("href") || lower.starts_with("on")) {
            return Err(ImageError::Unsafe(format!("<{name}> animates {value}")));
        }
        check_css(&value, &format!("<{name} {key}>"))?;
    }
    Ok(())
}

/// A length in pixels (`120`, `120px`, `120.5`); `None` for other units.
fn pixels(v: &str) -> Option<u32> {
    let n: f64 = v.trim().trim_end_matches("px").trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| n.ceil().min(u32::MAX as f64) as u32)
}

fn check_svg(text: &str) -> Result<CheckedImage, ImageError> {
    let mut reader = NsReader::from_str(text);
    let mut depth = 0usize;
    let mut root = None;
    let mut in_style = 0usize;
    // A style element's text as the browser joins it: text, CDATA and
    // references, whatever comments split it; checked whole at its end.
    let mut style = String::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(xml_error)?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                if root.is_none() {
                    let is_svg = matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == SVG_NAMESPACE)
                        && e.local_name().as_ref() == "svg";
                    if !is_svg {
                        return Err(ImageError::NotAnImage);
                    }
                    let attr = |name: &str| -> Option<String> {
                        e.attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == name)
                            .and_then(|a| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .ok()
                                    .map(Cow::into_owned)
                            })
                    };
                    let (w, h) = (attr("width"), attr("height"));
                    let view_box = attr("viewBox");
                    if w.is_none() && h.is_none() && view_box.is_none() {
                        return Err(ImageError::Svg(
                            "the root <svg> gives no width, height or viewBox".into(),
                        ));
                    }
                    root = Some((w.as_deref().and_then(pixels), h.as_deref().and_then(pixels)));
                }
                check_element(e)?;
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if e.local_name().as_ref().eq_ignore_ascii_case("style") {
                        in_style += 1;
                    }
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if e.local_name().as_ref().eq_ignore_ascii_case("style") {
                    in_style = in_style.saturating_sub(1);
                    check_css(&style, "<style>")?;
                    style.clear();
                }
            }
            Event::Text(t) if in_style > 0 => style.push_str(&t.xml10_content()),
            Event::CData(t) if in_style > 0 => style.push_str(t),
            Event::GeneralRef(r) if in_style > 0 => {
                match r.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => style.push(c),
                    None => {
                        let name: &str = r;
                        style.push_str(
                            quick_xml::escape::resolve_predefined_entity(name)
                                .ok_or_else(|| xml_error(format!("unknown entity &{name};")))?,
                        );
                    }
                }
            }
            Event::DocType(_) => {
                return Err(ImageError::Unsafe("it has a DOCTYPE (entities)".into()))
            }
            Event::PI(_) => {
                return Err(ImageError::Unsafe(
                    "it has a processing instruction (a stylesheet)".into(),
                ))
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ImageError::Svg("an element is not closed".into()));
    }
    let (width, height) = root.ok_or(ImageError::NotAnImage)?;
    Ok(CheckedImage {
        kind: ImageKind::Svg,
        width,
        height,
    })
}

/// The texts of the OB credential elements of an SVG.
fn svg_credentials(text: &str) -> Result<Vec<String>, ImageError> {
    let mut reader = NsReader::from_str(text);
    let mut found = Vec::new();
    let mut inside: Option<String> = None;
    let mut nested = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(xml_error)?;
        match event {
            Event::Start(e) if inside.is_some() => {
                let _ = e;
                nested += 1;
            }
            Event::Start(e) if is_ob_credential(&ns, &e) => inside = Some(String::new()),
            Event::Empty(e) if inside.is_none() && is_ob_credential(&ns, &e) => {
                found.push(String::new())
            }
            Event::End(_) if inside.is_some() => {
                if nested == 0 {
                    found.push(inside.take().expect("inside"));
                } else {
                    nested -= 1;
                }
            }
            Event::CData(t) => {
                if let Some(s) = inside.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::Text(t) => {
                if let Some(s) = inside.as_mut() {
                    s.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(s) = inside.as_mut() {
                    match r.resolve_char_ref().map_err(xml_error)? {
                        Some(c) => s.push(c),
                        None => {
                            let name: &str = &r;
                            let c = quick_xml::escape::resolve_predefined_entity(name)
                                .ok_or_else(|| xml_error(format!("unknown entity &{name};")))?;
                            s.push_str(c);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(found)
}

/// How the OB namespace gets declared for the baked element.
#[derive(PartialEq, Eq)]
enum Declare {
    /// The root declares `openbadges` already.
    Already,
    /// The root gets `xmlns:openbadges`.
    OnRoot,
    /// The root binds `openbadges` to something else: the element declares it.
    OnElement,
}

/// The root `svg` start tag: where it ends, whether it is `<svg/>`, its name.
struct Root {
    end: usize,
    empty: bool,
    name: String,
    declare: Declare,
}

fn bake_svg(text: &str, json: &str) -> Result<Vec<u8>, ImageError> {
    if text.len() > MAX_BAKED_BYTES {
        return Err(ImageError::TooLarge(text.len()));
    }
    let mut reader = NsReader::from_str(text);
    // Byte ranges of the input to drop (old credentials), and where the
    // root start tag ends.
    let mut drop: Vec<(usize, usize)> = Vec::new();
    let mut root: Option<Root> = None;
    let mut open: Option<(usize, usize)> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = reader.read_resolved_event().map_err(xml_error)?;
        let (in_svg, in_ob) = match &ns {
            ResolveResult::Bound(n) => (n.as_ref() == SVG_NAMESPACE, n.as_ref() == OB_NAMESPACE),
            _ => (false, false),
        };
        let is_credential = |e: &BytesStart| in_ob && e.local_name().as_ref() == "credential";
        let after = reader.buffer_position() as usize;
        match &event {
            Event::Start(e) | Event::Empty(e) if root.is_none() => {
                if !(in_svg && e.local_name().as_ref() == "svg") {
                    return Err(ImageError::NotAnImage);
                }
                let declared = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "xmlns:openbadges");
                root = Some(Root {
                    end: after,
                    empty: matches!(event, Event::Empty(_)),
                    name: e.name().as_ref().to_owned(),
                    // A root that binds the prefix to another namespace
                    // keeps it: the element then declares its own.
                    declare: match declared {
                        None => Declare::OnRoot,
                        Some(a) if a.value.as_ref() == OB_NAMESPACE => Declare::Already,
                        Some(_) => Declare::OnElement,
                    },
                });
            }
            Event::Start(e) if open.is_none() && is_credential(e) => open = Some((before, 0)),
            Event::Empty(e) if open.is_none() && is_credential(e) => drop.push((before, after)),
            Event::Start(_) => {
                if let Some((_, depth)) = open.as_mut() {
                    *depth += 1;
                }
            }
            Event::End(_) => match open {
                Some((start, 0)) => {
                    drop.push((start, after));
                    open = None;
                }
                Some((start, d)) => open = Some((start, d - 1)),
                None => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let root = root.ok_or(ImageError::NotAnImage)?;

    let mut start = BytesStart::new("openbadges:credential");
    if root.declare == Declare::OnElement {
        start.push_attribute(("xmlns:openbadges", OB_NAMESPACE));
    }
    let mut element = quick_xml::Writer::new(Vec::with_capacity(json.len() + 96));
    element
        .write_event(Event::Start(start))
        .and_then(|_| element.write_event(Event::CData(BytesCData::new(json))))
        .and_then(|_| element.write_event(Event::End(BytesEnd::new("openbadges:credential"))))
        .map_err(xml_error)?;
    let element = element.into_inner();

    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + element.len() + 64);
    // The root start tag, with the namespace declared before its `>` (or
    // `/>`: an empty root gets content and an end tag).
    let tag_close = if root.empty {
        root.end - 2
    } else {
        root.end - 1
    };
    out.extend_from_slice(&bytes[..tag_close]);
    if root.declare == Declare::OnRoot {
        write!(out, " xmlns:openbadges=\"{OB_NAMESPACE}\"").expect("writes to a Vec");
    }
    out.push(b'>');
    out.extend_from_slice(&element);
    if root.empty {
        write!(out, "</{}>", root.name).expect("writes to a Vec");
    }
    let root_end = root.end;
    let mut at = root_end;
    for (start, end) in drop {
        if start >= at {
            out.extend_from_slice(&bytes[at..start]);
            at = end;
        }
    }
    out.extend_from_slice(&bytes[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small RGBA PNG, encoded by the `png` crate.
    pub(crate) fn sample_png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..width * height * 4)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    fn pixels_of(png_bytes: &[u8]) -> Vec<u8> {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        buf
    }

    const SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"120\" viewBox=\"0 0 120 120\">\n  <circle cx=\"60\" cy=\"60\" r=\"50\" fill=\"#2a6\"/>\n</svg>\n";

    fn credential() -> Value {
        json!({
            "id": "urn:uuid:1",
            "name": "Électricien {agréé}® 🎓 ]]> done",
            "credentialSubject": {"note": "}{ {{ }"}
        })
    }

    #[test]
    fn a_png_bakes_with_its_pixels_and_other_chunks_untouched() {
        let image = sample_png(7, 5);
        let baked = bake(&image, &credential()).unwrap();
        assert_eq!(unbake(&baked).unwrap(), credential());
        assert_eq!(pixels_of(&baked), pixels_of(&image));
        // Every original chunk is there, byte for byte, in order.
        let original: Vec<_> = png_chunks(&image)
            .unwrap()
            .iter()
            .map(|c| image[c.start..c.end].to_vec())
            .collect();
        let kept: Vec<_> = png_chunks(&baked)
            .unwrap()
            .iter()
            .filter(|c| &c.kind != b"iTXt")
            .map(|c| baked[c.start..c.end].to_vec())
            .collect();
        assert_eq!(original, kept);
        // Baking again replaces the credential.
        let again = bake(&baked, &json!({"id": "urn:uuid:2"})).unwrap();
        assert_eq!(unbake(&again).unwrap(), json!({"id": "urn:uuid:2"}));
        assert_eq!(
            again.len() - image.len(),
            bake(&image, &json!({"id": "urn:uuid:2"})).unwrap().len() - image.len()
        );
    }

    #[test]
    fn baked_json_hides_braces_in_strings_and_keeps_utf8() {
        let text = baking_json(&credential());
        let inside_strings = text.matches('{').count();
        assert_eq!(inside_strings, 2, "only the two objects' braces: {text}");
        assert!(text.contains("Électricien \\u007bagréé\\u007d® 🎓 ]]\\u003e done"));
        assert!(!text.contains("]]>"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), credential());
    }

    #[test]
    fn an_svg_bakes_after_its_root_tag_and_replaces_an_old_credential() {
        let baked = bake(SVG.as_bytes(), &credential()).unwrap();
        let text = std::str::from_utf8(&baked).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"120\" viewBox=\"0 0 120 120\" xmlns:openbadges=\"https://purl.imsglobal.org/ob/v3p0\"><openbadges:credential><![CDATA[{"), "{text}");
        assert!(text.ends_with("]]></openbadges:credential>\n  <circle cx=\"60\" cy=\"60\" r=\"50\" fill=\"#2a6\"/>\n</svg>\n"));
        assert_eq!(unbake(&baked).unwrap(), credential());
        let again = bake(&baked, &json!({"id": "urn:uuid:2"})).unwrap();
        assert_eq!(unbake(&again).unwrap(), json!({"id": "urn:uuid:2"}));
        assert_eq!(
            std::str::from_utf8(&again)
                .unwrap()
                .matches("openbadges:credential>")
                .count(),
            2
        );
        check(&again).unwrap();
    }

    #[test]
    fn any_svg_that_passes_the_check_bakes() {
        let cases = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"/>",
            "<s:svg xmlns:s=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"/>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:openbadges=\"urn:other\" viewBox=\"0 0 9 9\"><openbadges:credential>not ours</openbadges:credential></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:o=\"https://purl.imsglobal.org/ob/v3p0\" viewBox=\"0 0 9 9\"><g><o:credential><![CDATA[{}]]></o:credential></g><o:credential/></svg>",
        ];
        for svg in cases {
            check(svg.as_bytes()).unwrap();
            let baked = bake(svg.as_bytes(), &credential()).unwrap();
            assert_eq!(unbake(&baked).unwrap(), credential(), "{svg}");
            check(&baked).unwrap();
        }
    }

    proptest::proptest! {
        /// Whatever the strings hold, the credential comes back out whole,
        /// by the spec's way and by counting braces from the keyword.
        #[test]
        fn any_credential_survives_baking(name in "\\PC*", note in "[{}\\[\\]<>&\"\\\\é®🎓 a-z]*") {
            let vc = json!({"name": name, "credentialSubject": {"note": note}});
            for image in [sample_png(3, 2), SVG.as_bytes().to_vec()] {
                let baked = bake(&image, &vc).unwrap();
                proptest::prop_assert_eq!(&unbake(&baked).unwrap(), &vc);
                let text = String::from_utf8_lossy(&baked);
                let from = text.find(PNG_KEYWORD).or_else(|| text.find("openbadges:credential")).unwrap();
                let open = from + text[from..].find('{').unwrap();
                let mut depth = 0i32;
                let mut end = open;
                for (i, c) in text[open..].char_indices() {
                    depth += match c { '{' => 1, '}' => -1, _ => 0 };
                    if depth == 0 { end = open + i + 1; break; }
                }
                let naive: Value = serde_json::from_str(&text[open..end]).unwrap();
                proptest::prop_assert_eq!(&naive, &vc);
            }
        }
    }

    #[test]
    fn two_credentials_or_none_are_refused() {
        let image = sample_png(2, 2);
        assert_eq!(unbake(&image), Err(ImageError::NoCredential));
        let mut chunk = Vec::new();
        png::text_metadata::ITXtChunk::new(PNG_KEYWORD, "{}")
            .encode(&mut chunk)
            .unwrap();
        let baked = bake(&image, &json!({"a": 1})).unwrap();
        let mut two = baked.clone();
        let iend = two.len() - 12;
        two.splice(iend..iend, chunk);
        assert_eq!(unbake(&two), Err(ImageError::SeveralCredentials(2)));
        assert_eq!(unbake(SVG.as_bytes()), Err(ImageError::NoCredential));
    }

    #[test]
    fn images_are_checked() {
        assert_eq!(check(&sample_png(64, 64)).unwrap().width, Some(64));
        assert!(matches!(
            check(&sample_png(MAX_DIMENSION + 1, 1)),
            Err(ImageError::Dimensions { .. })
        ));
        assert_eq!(check(b"GIF89a...."), Err(ImageError::NotAnImage));
        let mut truncated = sample_png(16, 16);
        truncated.truncate(truncated.len() - 20);
        assert!(matches!(check(&truncated), Err(ImageError::Png(_))));
        assert_eq!(check(SVG.as_bytes()).unwrap().width, Some(120));
        assert!(matches!(
            check(&vec![b' '; MAX_IMAGE_BYTES + 1]),
            Err(ImageError::TooLarge(_))
        ));
        let unsafe_svgs = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><script>alert(1)</script></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\" onload=\"alert(1)\"/>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:x=\"http://www.w3.org/1999/xlink\" width=\"9\" height=\"9\"><image x:href=\"https://tracker.example/p.png\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><style>@import url(https://x.example/a.css);</style></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><rect style=\"fill:url(https://x.example/#p)\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><a href=\"javascript:alert(1)\"><rect/></a></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><foreignObject/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><set attributeName=\"href\" to=\"javascript:x\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><style>@imp<!---->ort \"https://t.example/a.css\";</style></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><style>svg{background:ur<![CDATA[l(https://t.example/p)]]>}</style></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><style>svg{background:u&#114;l(https://t.example/p)}</style></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><rect style=\"background-image:\\75 rl(https://t.example/p)\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><rect style=\"background:image-set(&quot;https://t.example/p.png&quot; 1x)\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><img src=\"https://t.example/p.png\"/></svg>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><g src=\"https://t.example/p.png\"/></svg>",
            "<!DOCTYPE svg [<!ENTITY a \"aaaa\">]><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"/>",
            "<?xml-stylesheet href=\"https://x.example/a.css\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"/>",
        ];
        for svg in unsafe_svgs {
            assert!(
                matches!(check(svg.as_bytes()), Err(ImageError::Unsafe(_))),
                "{svg}"
            );
        }
        // Local references and embedded rasters are fine.
        check(b"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 9 9\"><defs><linearGradient id=\"g\"/></defs><rect fill=\"url(#g)\"/><use href=\"#g\"/><image href=\"data:image/png;base64,AAAA\"/></svg>").unwrap();
        assert_eq!(check(b"<html><body/></html>"), Err(ImageError::NotAnImage));
        assert!(matches!(
            check(b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\">"),
            Err(ImageError::Svg(_))
        ));
        assert!(matches!(
            check(b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9000\" height=\"9\"/>"),
            Err(ImageError::Dimensions { .. })
        ));
    }

    #[test]
    fn data_urls_decode_and_must_say_what_they_hold() {
        use base64::Engine;
        let png = sample_png(3, 3);
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        assert_eq!(from_data_url(&url).unwrap(), (png.clone(), ImageKind::Png));
        let lying = format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        assert!(matches!(from_data_url(&lying), Err(ImageError::DataUrl(_))));
        let svg = format!(
            "data:image/svg+xml,{}",
            percent_encoding::utf8_percent_encode(SVG, percent_encoding::NON_ALPHANUMERIC)
        );
        assert_eq!(from_data_url(&svg).unwrap().1, ImageKind::Svg);
        assert!(from_data_url("https://example.org/a.png").is_err());
    }
}
