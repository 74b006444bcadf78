//! Writing a page back: every byte copied as it was, except the edited attribute values, which
//! are escaped for their quoting and encoded in the page's encoding.

use std::io::{self, Read, Seek, SeekFrom, Write};

use encoding_rs::{Encoding, UTF_8};

use crate::core::charset::{self, Charset};
use crate::page::{Edit, PageError, Scratch};

/// Copies `input` to `output`, replacing each edit's range by its value, HTML-escaped for the
/// quoting the value had (an unquoted value is written double-quoted, since signed URLs hold
/// `=`) and encoded in the page's `encoding`. `edits` must be ordered and not overlap.
pub fn splice<R: Read, W: Write>(
    mut input: R,
    edits: &[Edit],
    encoding: &'static Encoding,
    mut output: W,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let buf = scratch.chunk();
    let mut pos = 0u64; // offset of buf[0] in the input
    let mut cursor = 0u64; // next input byte to copy
    let mut last = 0u8; // last input byte copied
    let mut next = 0;
    loop {
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = pos + n as u64;
        while cursor < end {
            let local = |at: u64| (at - pos) as usize;
            match edits.get(next) {
                Some(e) if e.range.start < end => {
                    if e.range.start > cursor {
                        output.write_all(&buf[local(cursor)..local(e.range.start)])?;
                        last = buf[local(e.range.start) - 1];
                    }
                    if e.raw {
                        output.write_all(&encoding.encode(&e.value).0)?;
                    } else {
                        write_value(&e.value, last, encoding, &mut output)?;
                    }
                    cursor = cursor.max(e.range.end);
                    next += 1;
                }
                _ => {
                    output.write_all(&buf[local(cursor)..n])?;
                    last = buf[n - 1];
                    cursor = end;
                }
            }
        }
        pos = end;
    }
    if next < edits.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the page became shorter while it was processed",
        ));
    }
    output.flush()
}

fn write_value(
    value: &str,
    before: u8,
    encoding: &'static Encoding,
    out: &mut impl Write,
) -> io::Result<()> {
    let escaped = attribute_text(value, before);
    if encoding == UTF_8 {
        out.write_all(escaped.as_bytes())
    } else {
        // Characters the encoding lacks become numeric character references, which decode back
        // to the same characters inside an attribute.
        out.write_all(&encoding.encode(&escaped).0)
    }
}

/// An attribute value as markup: HTML-escaped for the quote written `before` it, or
/// double-quoted when there was none (signed URLs hold `=`, which unquoted values cannot).
pub(crate) fn attribute_text(value: &str, before: u8) -> String {
    let quote = if before == b'\'' { b'\'' } else { b'"' };
    let quoted = !matches!(before, b'"' | b'\'');
    let mut escaped = String::with_capacity(value.len() + 32);
    if quoted {
        escaped.push(char::from(quote));
    }
    // Copied in runs between the bytes to escape: ASCII bytes never occur inside a multi-byte
    // character, so every run is whole characters.
    let mut rest = value;
    while let Some(i) = rest.bytes().position(|b| b == b'&' || b == quote) {
        escaped.push_str(&rest[..i]);
        escaped.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    escaped.push_str(rest);
    if quoted {
        escaped.push(char::from(quote));
    }
    escaped
}

/// Signed URLs are longer: edits in the first 1024 bytes can push a `<meta charset>` out of the
/// browser's prescan, and the signed page would be decoded as something else than `encoding`,
/// which the scan detected.
pub(crate) fn charset_stays<R: Read + Seek>(
    input: &mut R,
    edits: &[Edit],
    encoding: &'static Encoding,
    scratch: &mut Scratch,
) -> Result<(), PageError> {
    // A pushed-out declaration leaves the default, UTF-8, and edits (escaped attribute values)
    // cannot bring in another one: a UTF-8 page cannot change, so its head is not read again.
    if encoding == UTF_8 {
        return Ok(());
    }
    let early = edits
        .iter()
        .take_while(|e| e.range.start < charset::PRESCAN_BYTES as u64)
        .count();
    let Some(last) = early.checked_sub(1).map(|i| &edits[i]) else {
        return Ok(());
    };
    let mut head = Vec::new();
    input.seek(SeekFrom::Start(0))?;
    input
        .by_ref()
        .take(last.range.end + charset::PRESCAN_BYTES as u64)
        .read_to_end(&mut head)?;
    let mut signed_head = Vec::with_capacity(head.len() + early * 80);
    splice(
        &head[..],
        &edits[..early],
        encoding,
        &mut signed_head,
        scratch,
    )?;
    if charset::detect(&signed_head) == Charset::Supported(encoding) {
        Ok(())
    } else {
        Err(PageError::CharsetMoved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_the_quote_before_them() {
        let written = |before: u8| {
            let mut out = Vec::new();
            write_value("/ä.jpg?a=\"1\"&b='2'&&", before, UTF_8, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(written(b'"'), "/ä.jpg?a=&quot;1&quot;&amp;b='2'&amp;&amp;");
        assert_eq!(written(b'\''), "/ä.jpg?a=\"1\"&amp;b=&#39;2&#39;&amp;&amp;");
        // Unquoted: written double-quoted.
        assert_eq!(
            written(b'='),
            "\"/ä.jpg?a=&quot;1&quot;&amp;b='2'&amp;&amp;\""
        );
    }
}
