//! The WHATWG srcset parser on arbitrary text: no panic; candidate ranges point at the URL text;
//! replacing no URL changes nothing; and the candidates, written back, parse to the same ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rendorix::core::srcset;

fuzz_target!(|input: &str| {
    let first = srcset::parse(input);
    for c in &first {
        assert_eq!(&input[c.url_range.clone()], c.url);
        assert!(!c.url.is_empty());
    }
    assert_eq!(srcset::replace_urls(input, &first, |_, _| None), None);
    // Replacing every URL by itself gives the input back byte for byte.
    if !first.is_empty() {
        let same = srcset::replace_urls(input, &first, |_, u| Some(u.to_owned()));
        assert_eq!(same.as_deref(), Some(input));
    }
    let serialized = first
        .iter()
        .map(|c| {
            let mut s = c.url.to_owned();
            for d in &c.descriptors {
                s.push(' ');
                s.push_str(d);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ");
    let second = srcset::parse(&serialized);
    let shape = |cs: &[srcset::Candidate<'_>]| {
        cs.iter()
            .map(|c| (c.url.to_owned(), c.descriptors.join(" "), c.valid))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&second), shape(&first), "{serialized:?}");
});
