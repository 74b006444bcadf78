//! Where a problem is, in the terms of an editor: 1-based line and column.

use std::io::{self, Read};

use encoding_rs::{Encoding, UTF_8};

use crate::page::Problem;

/// 1-based line and column of each problem (columns count characters in UTF-8 pages, bytes
/// otherwise). `problems` must be sorted by offset.
pub(crate) fn locate<R: Read>(
    mut input: R,
    problems: &[Problem],
    encoding: &'static Encoding,
) -> io::Result<Vec<(Problem, usize, usize)>> {
    let places = places(&mut input, problems.iter().map(|p| p.offset), encoding)?;
    Ok(problems
        .iter()
        .zip(places)
        .map(|(p, (line, col))| (p.clone(), line, col))
        .collect())
}

/// 1-based line and column of each of `offsets` (sorted).
pub(crate) fn places<R: Read>(
    mut input: R,
    offsets: impl Iterator<Item = u64>,
    encoding: &'static Encoding,
) -> io::Result<Vec<(usize, usize)>> {
    let utf8 = encoding == UTF_8;
    let (mut line, mut col, mut pos) = (1usize, 1usize, 0u64);
    let mut out = Vec::new();
    let mut next = offsets.peekable();
    let mut buf = [0u8; 8192];
    'read: loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            while next.next_if(|&at| at == pos).is_some() {
                out.push((line, col));
            }
            if next.peek().is_none() {
                break 'read;
            }
            if b == b'\n' {
                line += 1;
                col = 1;
            } else if !utf8 || (b & 0xC0) != 0x80 {
                col += 1;
            }
            pos += 1;
        }
    }
    out.extend(next.map(|_| (line, col)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Refusal;

    fn problem(offset: u64) -> Problem {
        Problem {
            offset,
            url: String::new(),
            refusal: Refusal::Nul,
        }
    }

    #[test]
    fn locate_counts_lines_and_characters() {
        let text = "ab\nçé<x>\n\nz";
        let found = locate(
            text.as_bytes(),
            &[problem(0), problem(7), problem(12)],
            UTF_8,
        )
        .unwrap();
        let at: Vec<_> = found.iter().map(|(_, l, c)| (*l, *c)).collect();
        assert_eq!(at, [(1, 1), (2, 3), (4, 1)]);
        let found = locate(text.as_bytes(), &[problem(7)], encoding_rs::WINDOWS_1252).unwrap();
        assert_eq!((found[0].1, found[0].2), (2, 5));
    }
}
