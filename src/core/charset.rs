//! A page's character encoding, decided before parsing as a browser decides it for a file
//! served without a `charset` in its Content-Type: byte order mark first, then a `<meta charset>`
//! or `<meta http-equiv="content-type">` in the first 1024 bytes (the HTML standard's prescan),
//! else UTF-8, which every supported generator writes.

use encoding_rs::{
    DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED,
};

/// How many leading bytes the prescan reads.
pub const PRESCAN_BYTES: usize = 1024;

/// The outcome of detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// An ASCII-compatible encoding that the rewriter can process byte-preservingly.
    Supported(&'static Encoding),
    /// An encoding whose bytes the rewriter cannot process safely (UTF-16, ISO-2022-JP).
    Unsupported(&'static Encoding),
}

/// Detects the encoding from the first bytes of a page (pass at least [`PRESCAN_BYTES`] when
/// the page has them).
pub fn detect(prefix: &[u8]) -> Charset {
    let found = match Encoding::for_bom(prefix) {
        Some((enc, _)) => enc,
        None => match prescan(&prefix[..prefix.len().min(PRESCAN_BYTES)]) {
            // The standard maps a declared UTF-16 to UTF-8 (the bytes evidently are not UTF-16),
            // and x-user-defined to windows-1252.
            Some(enc) if enc == UTF_16BE || enc == UTF_16LE => UTF_8,
            Some(enc) if enc == X_USER_DEFINED => WINDOWS_1252,
            Some(enc) => enc,
            None => UTF_8,
        },
    };
    if found.is_ascii_compatible() && lol_html::AsciiCompatibleEncoding::new(found).is_some() {
        Charset::Supported(found)
    } else {
        Charset::Unsupported(found)
    }
}

/// The HTML standard's "prescan a byte stream to determine its encoding", for the cases static
/// sites contain: comments, `<meta charset>`, `<meta http-equiv content>`, other tags skipped.
fn prescan(bytes: &[u8]) -> Option<&'static Encoding> {
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.starts_with(b"<!--") {
            pos += find(&rest[4..], b"-->").map_or(rest.len(), |i| i + 7);
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&b| is_space(b) || b == b'/')
        {
            pos += 5;
            let mut got_pragma = false;
            let mut need_pragma = None;
            let mut charset = None;
            while let Some((name, value, next)) = attribute(bytes, pos) {
                pos = next;
                match name.as_str() {
                    "http-equiv" if value.eq_ignore_ascii_case("content-type") => got_pragma = true,
                    "content" if charset.is_none() => {
                        if let Some(enc) = charset_from_content(&value) {
                            charset = Some(enc);
                            need_pragma = Some(true);
                        }
                    }
                    "charset" if charset.is_none() => {
                        charset = Encoding::for_label(value.trim().as_bytes());
                        need_pragma = Some(false);
                    }
                    _ => {}
                }
            }
            match (need_pragma, charset) {
                (Some(true), Some(enc)) if got_pragma => return Some(enc),
                (Some(false), Some(enc)) => return Some(enc),
                _ => {}
            }
        } else if rest.len() > 1
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic() || rest[1] == b'/')
        {
            // Another tag: skip its name and attributes (quoted values may hold '>').
            pos += 2;
            while pos < bytes.len() && !is_space(bytes[pos]) && bytes[pos] != b'>' {
                pos += 1;
            }
            while let Some((_, _, next)) = attribute(bytes, pos) {
                pos = next;
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            pos += find(rest, b">").map_or(rest.len(), |i| i + 1);
        } else {
            pos += 1;
        }
    }
    None
}

/// "Get an attribute": returns the lowercased name, the value and the position after it, or
/// `None` at `>` or the end.
fn attribute(bytes: &[u8], mut pos: usize) -> Option<(String, String, usize)> {
    while pos < bytes.len() && (is_space(bytes[pos]) || bytes[pos] == b'/') {
        pos += 1;
    }
    if pos >= bytes.len() || bytes[pos] == b'>' {
        return None;
    }
    let start = pos;
    while pos < bytes.len() && !is_space(bytes[pos]) && !matches!(bytes[pos], b'=' | b'>' | b'/')
        || pos == start
    {
        pos += 1;
        if pos >= bytes.len() {
            return None;
        }
    }
    let name = String::from_utf8_lossy(&bytes[start..pos]).to_ascii_lowercase();
    while pos < bytes.len() && is_space(bytes[pos]) {
        pos += 1;
    }
    if bytes.get(pos) != Some(&b'=') {
        return Some((name, String::new(), pos));
    }
    pos += 1;
    while pos < bytes.len() && is_space(bytes[pos]) {
        pos += 1;
    }
    let value_start;
    let value_end;
    match bytes.get(pos) {
        Some(&q @ (b'"' | b'\'')) => {
            value_start = pos + 1;
            value_end = value_start + find(&bytes[value_start..], &[q])?;
            pos = value_end + 1;
        }
        Some(_) => {
            value_start = pos;
            while pos < bytes.len() && !is_space(bytes[pos]) && bytes[pos] != b'>' {
                pos += 1;
            }
            value_end = pos;
        }
        None => return None,
    }
    Some((
        name,
        String::from_utf8_lossy(&bytes[value_start..value_end]).into_owned(),
        pos,
    ))
}

/// "Extract a character encoding from a meta element": `…charset=<label>` in a content value.
fn charset_from_content(content: &str) -> Option<&'static Encoding> {
    let lower = content.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("charset") {
        let after = lower[from + i + 7..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        if let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start_matches(|c: char| c.is_ascii_whitespace());
            let label = match v.chars().next() {
                Some(q @ ('"' | '\'')) => v[1..].split(q).next().filter(|_| v[1..].contains(q))?,
                Some(_) => v
                    .split(|c: char| c.is_ascii_whitespace() || c == ';')
                    .next()
                    .unwrap_or(""),
                None => return None,
            };
            return Encoding::for_label(label.as_bytes());
        }
        from += i + 7;
    }
    None
}

/// Text decoded from bytes as a browser decodes it (each malformed sequence becomes U+FFFD),
/// which can say where in the bytes each position of the text came from.
#[derive(Debug)]
pub struct DecodedText {
    /// The text.
    pub text: String,
    encoding: &'static Encoding,
    /// `(text offset, byte offset)` at the edges of every replacement character, where the text
    /// and the bytes fall out of step.
    anchors: Vec<(usize, usize)>,
}

impl DecodedText {
    /// Decodes `bytes` (no byte order mark handling) in `encoding`.
    pub fn new(bytes: &[u8], encoding: &'static Encoding) -> DecodedText {
        let mut decoder = encoding.new_decoder_without_bom_handling();
        let capacity = decoder
            .max_utf8_buffer_length_without_replacement(bytes.len())
            .unwrap_or(bytes.len() * 3);
        let mut text = String::with_capacity(capacity);
        let mut anchors = Vec::new();
        let mut read = 0;
        loop {
            let (result, n) =
                decoder.decode_to_string_without_replacement(&bytes[read..], &mut text, true);
            read += n;
            match result {
                DecoderResult::Malformed(bad, after) => {
                    let end = read - usize::from(after);
                    anchors.push((text.len(), end - usize::from(bad)));
                    text.push('\u{FFFD}');
                    anchors.push((text.len(), end));
                }
                DecoderResult::OutputFull => text.reserve(bytes.len() - read + 16),
                DecoderResult::InputEmpty => break,
            }
        }
        DecodedText {
            text,
            encoding,
            anchors,
        }
    }

    /// The byte offset that text offset `at` (a character boundary not inside a replacement
    /// character) came from.
    pub fn byte_offset(&self, at: usize) -> usize {
        let i = self.anchors.partition_point(|&(t, _)| t <= at);
        let (t, b) = i.checked_sub(1).map_or((0, 0), |i| self.anchors[i]);
        if self.encoding == UTF_8 {
            b + (at - t)
        } else {
            b + self.encoding.encode(&self.text[t..at]).0.len()
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{ISO_2022_JP, SHIFT_JIS};

    #[test]
    fn decoded_text_maps_offsets_past_replacement_characters() {
        let bytes = b"a\xff\xe2\x82b\xc3\xa9c";
        let d = DecodedText::new(bytes, UTF_8);
        assert_eq!(d.text, "a\u{FFFD}\u{FFFD}b\u{e9}c");
        let at = |s: &str| d.text.find(s).unwrap();
        assert_eq!(d.byte_offset(0), 0);
        assert_eq!(d.byte_offset(at("b")), 4);
        assert_eq!(d.byte_offset(at("c")), 7);
        assert_eq!(d.byte_offset(d.text.len()), bytes.len());

        let bytes = b"\x82\xa0\xff\x82\xa0x";
        let d = DecodedText::new(bytes, SHIFT_JIS);
        assert_eq!(d.text, "\u{3042}\u{FFFD}\u{3042}x");
        assert_eq!(d.byte_offset(d.text.find('x').unwrap()), 5);
    }

    fn enc(page: &str) -> Charset {
        detect(page.as_bytes())
    }

    #[test]
    fn defaults_to_utf8() {
        assert_eq!(enc("<!doctype html><p>hi"), Charset::Supported(UTF_8));
        assert_eq!(enc(""), Charset::Supported(UTF_8));
    }

    #[test]
    fn meta_charset_in_any_form() {
        assert_eq!(
            enc("<meta charset=windows-1252>"),
            Charset::Supported(WINDOWS_1252)
        );
        assert_eq!(
            enc("<html><head><META CharSet='Shift_JIS'>"),
            Charset::Supported(SHIFT_JIS)
        );
        assert_eq!(
            enc(r#"<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">"#),
            Charset::Supported(WINDOWS_1252)
        );
        assert_eq!(
            enc(r#"<meta content='text/html;charset="sjis"' http-equiv=content-type>"#),
            Charset::Supported(SHIFT_JIS)
        );
        assert_eq!(
            enc("<meta/charset=latin1>"),
            Charset::Supported(WINDOWS_1252)
        );
    }

    #[test]
    fn content_without_pragma_does_not_count() {
        assert_eq!(
            enc(r#"<meta content="charset=sjis"><meta charset="windows-1252">"#),
            Charset::Supported(WINDOWS_1252)
        );
    }

    #[test]
    fn comments_and_attribute_values_are_skipped() {
        assert_eq!(
            enc("<!-- <meta charset=sjis> --><meta charset=utf-8>"),
            Charset::Supported(UTF_8)
        );
        assert_eq!(
            enc(r#"<div title="<meta charset=sjis>"><meta charset=koi8-r>"#),
            Charset::Supported(encoding_rs::KOI8_R)
        );
    }

    #[test]
    fn only_the_first_1024_bytes_count() {
        let late = format!("{}<meta charset=sjis>", " ".repeat(1100));
        assert_eq!(enc(&late), Charset::Supported(UTF_8));
    }

    #[test]
    fn boms_win_and_utf16_is_unsupported() {
        assert_eq!(
            detect(b"\xEF\xBB\xBF<meta charset=sjis>"),
            Charset::Supported(UTF_8)
        );
        assert_eq!(detect(b"\xFF\xFE<\0h\0"), Charset::Unsupported(UTF_16LE));
        assert_eq!(detect(b"\xFE\xFF\0<\0h"), Charset::Unsupported(UTF_16BE));
        assert_eq!(enc("<meta charset=utf-16le>"), Charset::Supported(UTF_8));
        assert_eq!(
            enc("<meta charset=iso-2022-jp>"),
            Charset::Unsupported(ISO_2022_JP)
        );
        assert_eq!(
            enc("<meta charset=x-user-defined>"),
            Charset::Supported(WINDOWS_1252)
        );
    }

    #[test]
    fn unknown_labels_fall_back_to_utf8() {
        assert_eq!(enc("<meta charset=klingon>"), Charset::Supported(UTF_8));
    }
}
