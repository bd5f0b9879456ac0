//! `[metadata]`: the tags written into every output, with ISRC and UPC/EAN codes checked.

use crate::io::tags::Tags;

use super::keys::{Key, metadata as k};
use super::validate::Validator;
use super::walk::Tbl;

pub(super) fn metadata(v: &mut Validator<'_>, m: &Tbl<'_, '_>) -> Tags {
    m.check_section(&mut v.d, &k::SECTION, &[]);
    let s = |v: &mut Validator<'_>, key: &Key| {
        m.str(&mut v.d, key.name)
            .map(|s| s.v)
            .filter(|s| !s.is_empty())
    };
    let mut tags = Tags {
        title: s(v, &k::TITLE),
        artist: s(v, &k::ARTIST),
        album: s(v, &k::ALBUM),
        genre: s(v, &k::GENRE),
        comment: s(v, &k::COMMENT),
        copyright: s(v, &k::COPYRIGHT),
        ..Tags::default()
    };
    tags.track = m.int_of(&mut v.d, &k::TRACK).map(|n| n as u32);
    tags.year = m.int_of(&mut v.d, &k::YEAR).map(|y| y as i32);
    if let Some(isrc) = m.str(&mut v.d, k::ISRC.name) {
        match check_isrc(&isrc.v) {
            Ok(code) => tags.isrc = Some(code),
            Err((problem, help)) => {
                v.d.bad_value_help(&isrc.span, &m.key_path(k::ISRC.name), problem, help)
            }
        }
    }
    if let Some(upc) = m.str(&mut v.d, k::UPC.name) {
        match check_upc(&upc.v) {
            Ok(code) => tags.upc = Some(code),
            Err((problem, help)) => {
                v.d.bad_value_help(&upc.span, &m.key_path(k::UPC.name), problem, help)
            }
        }
    }
    tags
}

/// ISO 3901 ISRC: CC-XXX-YY-NNNNN (country, registrant, year, designation); hyphens optional.
/// Returns the 12-character form.
pub fn check_isrc(s: &str) -> Result<String, (String, String)> {
    let help = "an ISRC is 12 characters CC-XXX-YY-NNNNN: 2 letters, 3 letters or digits, 2-digit year, 5 digits, e.g. \"USABC2600003\"".to_string();
    let code: String = s.chars().filter(|&c| c != '-').collect();
    if code.chars().count() != 12 {
        return Err((
            format!(
                "has {} characters without hyphens, not 12",
                code.chars().count()
            ),
            help,
        ));
    }
    let c: Vec<char> = code.chars().collect();
    if c.iter().any(|c| c.is_ascii_lowercase()) {
        return Err((
            "must be written in capitals".into(),
            format!("write \"{}\"", code.to_ascii_uppercase()),
        ));
    }
    if !c[0..2].iter().all(|c| c.is_ascii_uppercase()) {
        return Err(("must start with a two-letter country code".into(), help));
    }
    if !c[2..5]
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err((
            "characters 3-5 (registrant) must be letters or digits".into(),
            help,
        ));
    }
    if !c[5..12].iter().all(char::is_ascii_digit) {
        return Err((
            "characters 6-12 (year and designation) must be digits".into(),
            help,
        ));
    }
    Ok(code)
}

/// UPC-A (12 digits) or EAN-13 (13 digits) with a correct GS1 check digit.
pub fn check_upc(s: &str) -> Result<String, (String, String)> {
    let help = "a UPC-A has 12 digits and an EAN-13 13; the last is a GS1 check digit".to_string();
    if !s.chars().all(|c| c.is_ascii_digit()) || !(s.len() == 12 || s.len() == 13) {
        return Err((
            format!(
                "must be 12 or 13 digits (found {} characters)",
                s.chars().count()
            ),
            help,
        ));
    }
    let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = digits.split_at(digits.len() - 1);
    // GS1: weights 3 and 1 alternate from the rightmost body digit.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    let expected = (10 - sum % 10) % 10;
    if check[0] != expected {
        let fixed: String = s[..s.len() - 1].to_string() + &expected.to_string();
        return Err((
            format!("check digit is {} but should be {expected}", check[0]),
            format!("if the other digits are right, the code is \"{fixed}\""),
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrc_forms() {
        assert_eq!(check_isrc("USABC2600003").unwrap(), "USABC2600003");
        assert_eq!(check_isrc("US-ABC-26-00003").unwrap(), "USABC2600003");
        assert!(check_isrc("usabc2600003").is_err());
        assert!(check_isrc("USABC260003").is_err());
        assert!(check_isrc("U1ABC2600003").is_err());
        assert!(check_isrc("USABC26A0003").is_err());
    }

    #[test]
    fn upc_and_ean_check_digits() {
        assert!(check_upc("012345678905").is_ok()); // UPC-A from GS1 examples
        assert!(check_upc("036000291452").is_ok());
        assert!(check_upc("4006381333931").is_ok()); // EAN-13
        let e = check_upc("012345678901").unwrap_err();
        assert!(e.0.contains("should be 5"), "{}", e.0);
        assert!(check_upc("01234567890").is_err());
        assert!(check_upc("01234567890a").is_err());
    }
}
