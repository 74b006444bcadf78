//! Web app manifests (spec §13): the `src` of every image resource (`icons`, `screenshots`,
//! `shortcuts[].icons`), written back as JSON strings.
//!
//! `serde_json` validates the file (and gives a clear error with line and column); the byte
//! ranges of the strings come from the small tokenizer here, since `serde_json` does not report
//! where a value was, and a rewritten string must replace exactly the bytes that held it.

use std::ops::Range;

/// The byte ranges of the string values (with their quotes) of every `src` member of the JSON
/// `text`; or where the text is not JSON (1-based line and column) and why.
pub(crate) fn sources(text: &str) -> Result<Vec<Range<usize>>, (usize, usize, String)> {
    #[derive(PartialEq)]
    enum Container {
        Object { key_next: bool, src: bool },
        Array,
    }
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err((e.line(), e.column(), e.to_string()));
    }
    // The text is valid JSON from here on, which keeps the tokenizer small.
    let bytes = text.as_bytes();
    let mut stack: Vec<Container> = Vec::new();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Container::Object {
                key_next: true,
                src: false,
            }),
            b'[' => stack.push(Container::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Container::Object { key_next, .. }) = stack.last_mut() {
                    *key_next = true;
                }
            }
            b':' => {
                if let Some(Container::Object { key_next, .. }) = stack.last_mut() {
                    *key_next = false;
                }
            }
            b'"' => {
                let end = string_end(bytes, i);
                if let Some(Container::Object { key_next, src }) = stack.last_mut() {
                    if *key_next {
                        *src = decode(&text[i..end]).as_deref() == Some("src");
                    } else if *src {
                        found.push(i..end);
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(found)
}

/// The end (after the closing quote) of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The value of a JSON string literal (with its quotes).
pub(crate) fn decode(literal: &str) -> Option<String> {
    serde_json::from_str(literal).ok()
}

/// `value` as a JSON string literal.
pub(crate) fn encode(value: &str) -> String {
    serde_json::to_string(value).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_src_string_and_nothing_else() {
        let text = r#"{"name":"src","icons":[{"src":"\/media\/a.png","sizes":"192x192"},
 {"sizes":"512x512", "src" : "/media/b.png"}],"shortcuts":[{"url":"/src","icons":[{"src":"/media/c\u002epng"}]}],
 "screenshots":[{"src":"/media/d.png"}],"s\u0072c":"/media/e.png","start_url":"/","n":{"src":1}}"#;
        let found: Vec<_> = sources(text)
            .unwrap()
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            found,
            [
                r#""\/media\/a.png""#,
                r#""/media/b.png""#,
                r#""/media/c\u002epng""#,
                r#""/media/d.png""#,
                r#""/media/e.png""#,
            ]
        );
        assert_eq!(decode(r#""/media/c\u002epng""#).unwrap(), "/media/c.png");
        assert_eq!(
            encode("/a.png?exp=1&kid=\"k\""),
            r#""/a.png?exp=1&kid=\"k\"""#
        );
    }

    #[test]
    fn invalid_json_is_an_error_with_its_place() {
        let (line, column, why) = sources("{\n \"icons\": [,]\n}").unwrap_err();
        assert_eq!((line, column), (2, 12));
        assert!(why.contains("expected value"), "{why}");
    }
}
