//! The WHATWG "parse a srcset attribute" algorithm, keeping byte positions.
//!
//! Splitting on `,` is wrong: a URL may contain commas (`/w_300,h_200/a.jpg`, `data:` URLs), and
//! a candidate ends at whitespace, not at a comma, unless the comma ends the URL. This follows the
//! HTML standard's splitting loop and descriptor tokenizer step by step, and reports where each
//! candidate's URL sits in the input so that it can be replaced while every other byte
//! (descriptors, whitespace, commas) stays as written.

use std::ops::Range;

/// One image candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The URL, as written.
    pub url: &'a str,
    /// Where the URL sits in the attribute value.
    pub url_range: Range<usize>,
    /// The descriptor tokens, as the tokenizer collected them (e.g. `["640w"]`, `["2x"]`).
    pub descriptors: Vec<&'a str>,
    /// Whether the descriptors pass the standard's descriptor parser. Browsers drop invalid
    /// candidates, but not all in the same way, so callers still sign them (spec §5).
    pub valid: bool,
}

/// HTML's ASCII whitespace: TAB, LF, FF, CR, SPACE. Other controls (U+000B) belong to the URL.
fn is_ascii_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// Parses a `srcset` (or `imagesrcset`) value into its candidates.
pub fn parse(input: &str) -> Vec<Candidate<'_>> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut candidates = Vec::new();
    loop {
        // Splitting loop: skip whitespace and commas.
        while pos < bytes.len() && (is_ascii_ws(bytes[pos]) || bytes[pos] == b',') {
            pos += 1;
        }
        if pos >= bytes.len() {
            return candidates;
        }
        let url_start = pos;
        while pos < bytes.len() && !is_ascii_ws(bytes[pos]) {
            pos += 1;
        }
        let mut url_end = pos;
        let mut descriptors = Vec::new();
        if bytes[url_end - 1] == b',' {
            // A URL ending in commas ends the candidate; the commas are not part of it.
            while url_end > url_start && bytes[url_end - 1] == b',' {
                url_end -= 1;
            }
        } else {
            pos = tokenize_descriptors(input, pos, &mut descriptors);
        }
        if url_end > url_start {
            let valid = descriptors_valid(&descriptors);
            candidates.push(Candidate {
                url: &input[url_start..url_end],
                url_range: url_start..url_end,
                descriptors,
                valid,
            });
        }
    }
}

/// The descriptor tokenizer; returns the position after the candidate.
fn tokenize_descriptors<'a>(input: &'a str, mut pos: usize, out: &mut Vec<&'a str>) -> usize {
    #[derive(PartialEq)]
    enum State {
        InDescriptor,
        InParens,
        AfterDescriptor,
    }
    let bytes = input.as_bytes();
    while pos < bytes.len() && is_ascii_ws(bytes[pos]) {
        pos += 1;
    }
    let mut start = pos;
    let mut state = State::InDescriptor;
    let mut push = |from: usize, to: usize| {
        if to > from {
            out.push(&input[from..to]);
        }
    };
    loop {
        let c = bytes.get(pos).copied();
        match state {
            State::InDescriptor => match c {
                Some(b) if is_ascii_ws(b) => {
                    push(start, pos);
                    state = State::AfterDescriptor;
                }
                Some(b',') => {
                    push(start, pos);
                    return pos + 1;
                }
                Some(b'(') => state = State::InParens,
                None => {
                    push(start, pos);
                    return pos;
                }
                Some(_) => {}
            },
            State::InParens => match c {
                Some(b')') => state = State::InDescriptor,
                None => {
                    push(start, pos);
                    return pos;
                }
                Some(_) => {}
            },
            State::AfterDescriptor => match c {
                Some(b) if is_ascii_ws(b) => {}
                None => return pos,
                Some(_) => {
                    state = State::InDescriptor;
                    start = pos;
                    continue; // reconsume
                }
            },
        }
        pos += 1;
    }
}

/// The standard's descriptor parser: at most one of `w`/`x`, at most one `h` (only with `w`).
fn descriptors_valid(descriptors: &[&str]) -> bool {
    let (mut w, mut x, mut h) = (false, false, false);
    for d in descriptors {
        // The unit is the last character, which need not be ASCII ("1é").
        let unit_at = d.char_indices().last().map_or(0, |(i, _)| i);
        let (number, unit) = d.split_at(unit_at);
        match unit {
            "w" if !w
                && !x
                && valid_non_negative_integer(number)
                && number.parse::<u64>() != Ok(0) =>
            {
                w = true;
            }
            "h" if !h
                && !x
                && valid_non_negative_integer(number)
                && number.parse::<u64>() != Ok(0) =>
            {
                h = true;
            }
            "x" if !w && !x && !h && valid_float(number) && !number.starts_with('-') => x = true,
            _ => return false,
        }
    }
    !h || w
}

fn valid_non_negative_integer(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

// HTML's "valid floating-point number": -?digits(.digits)?([eE][+-]?digits)? or -?.digits…
fn valid_float(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(f) && (int.is_empty() || digits(int)),
        None => digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Replaces each candidate URL by `f(url)` (when it returns `Some`), keeping every other byte.
pub fn replace_urls(
    input: &str,
    candidates: &[Candidate<'_>],
    mut f: impl FnMut(usize, &str) -> Option<String>,
) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut changed = false;
    for (i, c) in candidates.iter().enumerate() {
        if let Some(new) = f(i, c.url) {
            out.push_str(&input[copied..c.url_range.start]);
            out.push_str(&new);
            copied = c.url_range.end;
            changed = true;
        }
    }
    changed.then(|| {
        out.push_str(&input[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(input: &str) -> Vec<&str> {
        parse(input).into_iter().map(|c| c.url).collect()
    }

    fn descs(input: &str) -> Vec<Vec<&str>> {
        parse(input).into_iter().map(|c| c.descriptors).collect()
    }

    #[test]
    fn plain_candidates() {
        assert_eq!(urls("a.jpg 1x, b.jpg 2x"), ["a.jpg", "b.jpg"]);
        assert_eq!(descs("a.jpg 640w, b.jpg 1280w"), [["640w"], ["1280w"]]);
        assert_eq!(urls("a.jpg"), ["a.jpg"]);
        assert!(parse("").is_empty() && parse(" , ,, ").is_empty());
    }

    #[test]
    fn srcset_url_with_comma_is_signed_whole() {
        assert_eq!(
            urls("/img/w_300,h_200/a.jpg 300w, /img/w_600,h_400/a.jpg 600w"),
            ["/img/w_300,h_200/a.jpg", "/img/w_600,h_400/a.jpg"]
        );
        assert_eq!(urls("a.jpg?w=1,2 1x"), ["a.jpg?w=1,2"]);
    }

    #[test]
    fn data_urls_keep_their_commas() {
        assert_eq!(
            urls("data:image/png;base64,iVBOR= 1x, b.jpg 2x"),
            ["data:image/png;base64,iVBOR=", "b.jpg"]
        );
    }

    #[test]
    fn trailing_commas_end_the_url() {
        assert_eq!(urls("a.jpg,b.jpg"), ["a.jpg,b.jpg"]);
        assert_eq!(urls("a.jpg, b.jpg"), ["a.jpg", "b.jpg"]);
        assert_eq!(urls("a.jpg,, b.jpg,"), ["a.jpg", "b.jpg"]);
        let c = parse("a.jpg,,, b.jpg");
        assert_eq!(c[0].url_range, 0..5);
        assert!(c[0].descriptors.is_empty());
    }

    #[test]
    fn descriptors_may_hold_parentheses_and_end_at_commas() {
        assert_eq!(
            descs("a.jpg 1x (foo, bar), b.jpg"),
            [vec!["1x", "(foo, bar)"], vec![]]
        );
        assert_eq!(urls("a.jpg 1x (foo, bar), b.jpg"), ["a.jpg", "b.jpg"]);
        assert_eq!(descs("a.jpg 100w,b.jpg"), [vec!["100w"], vec![]]);
        assert_eq!(
            descs("a.jpg 100w 50h , b.jpg 2x"),
            [vec!["100w", "50h"], vec!["2x"]]
        );
    }

    #[test]
    fn only_html_whitespace_separates() {
        // U+000B is not ASCII whitespace: it stays in the URL.
        assert_eq!(urls("a\u{b}b.jpg 1x"), ["a\u{b}b.jpg"]);
        assert_eq!(urls("\t\n\x0C\ra.jpg\r\n2x"), ["a.jpg"]);
        assert_eq!(urls("a.jpg\u{a0}1x"), ["a.jpg\u{a0}1x"]);
    }

    #[test]
    fn invalid_candidates_are_reported_but_kept() {
        let c = parse(
            "a.jpg 1x 2x, b.jpg 100h, c.jpg 0w, d.jpg -1x, e.jpg 1.5x, f.jpg 1e1x, g.jpg foo",
        );
        let valid: Vec<bool> = c.iter().map(|c| c.valid).collect();
        assert_eq!(valid, [false, false, false, false, true, true, false]);
        assert_eq!(c.len(), 7);
    }

    #[test]
    fn a_descriptor_ending_in_a_non_ascii_character_is_invalid_not_a_panic() {
        // Found by `cargo fuzz run srcset`: the unit was split off at a byte, not a character.
        for input in ["\u{8}\n\u{8b}", "a.jpg 2\u{d7}", "a.jpg \u{e9}, b.jpg 1x"] {
            let c = parse(input);
            assert!(!c[0].valid, "{input:?}");
        }
        assert!(parse("a.jpg \u{e9}, b.jpg 1x")[1].valid);
    }

    #[test]
    fn ranges_point_at_the_urls() {
        let input = "  a.jpg 1x,\n b.jpg 2x";
        for c in parse(input) {
            assert_eq!(&input[c.url_range.clone()], c.url);
        }
    }

    #[test]
    fn replace_keeps_descriptors_and_spacing() {
        let input = " a.jpg  1x ,b.jpg\t2x,";
        let c = parse(input);
        let out = replace_urls(input, &c, |_, u| Some(format!("{u}?s"))).unwrap();
        assert_eq!(out, " a.jpg?s  1x ,b.jpg?s\t2x,");
        assert_eq!(replace_urls(input, &c, |_, _| None), None);
        let out = replace_urls(input, &c, |i, u| (i == 1).then(|| format!("{u}!"))).unwrap();
        assert_eq!(out, " a.jpg  1x ,b.jpg!\t2x,");
    }

    #[test]
    fn float_grammar() {
        for ok in ["1", "1.5", ".5", "-1", "1e3", "1E-3", "0.0"] {
            assert!(valid_float(ok), "{ok}");
        }
        for bad in ["", ".", "1.", "e3", "1e", "+1", "1.5.5", "0x1"] {
            assert!(!valid_float(bad), "{bad}");
        }
    }
}
