//! Delivery metadata and the bytes of the two WAV metadata chunks that carry it.
//!
//! [`info_chunk`] builds a RIFF `LIST`/`INFO` chunk (the classic WAV tag list, text as UTF-8)
//! and [`id3_chunk`] builds an `id3 ` chunk holding an ID3v2.3 tag (full Unicode, plus the ISRC
//! in `TSRC` and the UPC/EAN in `TXXX:BARCODE`, which RIFF INFO has no field for).
//! Both are pure functions returning the complete chunk (8-byte header included), ready to be
//! placed before `data` by the WAV writer in `crate::io::wav`. Every chunk and sub-chunk they
//! produce has an even length *by construction*: the pad byte is a NUL counted in the size, never
//! the uncounted RIFF pad byte, because hound 3.5.1 (and other readers) fail on an uncounted pad
//! byte before `data`.
//!
//! RIFF INFO has no field naming its character set (the 1991 RIFF specification assumed an
//! 8-bit code page). Current readers decode it as UTF-8: ffmpeg passes the bytes on as UTF-8
//! metadata, libsndfile prints them as they are, exiftool treats valid UTF-8 as UTF-8 and lofty
//! rejects anything else; Latin-1 bytes above 0x7F showed up there as `?` or U+FFFD. So the
//! values are written as UTF-8, which is also plain ASCII for ASCII text. When any of them is
//! not ASCII, [`cset_chunk`] adds the RIFF `CSET` chunk declaring code page 65001 (UTF-8), the
//! one thing exiftool looks at (it reads INFO as Latin-1 otherwise).

use id3::frame::{Comment, ExtendedText};
use id3::{Frame, TagLike, Version};

/// Delivery metadata of one output file.
///
/// Text fields are free Unicode text; `None` or an empty string means "not set". `isrc` and `upc`
/// are expected to be validated by the caller (ISRC: 12 characters without hyphens such as
/// `"USABC2600003"`; UPC-A: 12 digits, EAN-13: 13 digits) and are written only to ID3.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tags {
    /// Song title (INFO `INAM`, ID3 `TIT2`).
    pub title: Option<String>,
    /// Artist (INFO `IART`, ID3 `TPE1`).
    pub artist: Option<String>,
    /// Album or product title (INFO `IPRD`, ID3 `TALB`).
    pub album: Option<String>,
    /// Album artist (ID3 `TPE2` only: RIFF INFO has no field for it).
    #[serde(default)]
    pub album_artist: Option<String>,
    /// Track number, 1-based, no unit (INFO `ITRK`, ID3 `TRCK`).
    pub track: Option<u32>,
    /// Release year, four digits (INFO `ICRD`, ID3 `TYER`); years outside 0..=9999 are not written.
    pub year: Option<i32>,
    /// Genre as free text (INFO `IGNR`, ID3 `TCON`).
    pub genre: Option<String>,
    /// ISRC, 12 characters without hyphens (ID3 `TSRC` only; INFO `ISRC` means "source").
    pub isrc: Option<String>,
    /// UPC-A (12 digits) or EAN-13 (13 digits) of the release (ID3 `TXXX` "BARCODE" only).
    pub upc: Option<String>,
    /// Free comment (INFO `ICMT`, ID3 `COMM` with language "eng" and an empty description).
    pub comment: Option<String>,
    /// Copyright notice (INFO `ICOP`, ID3 `TCOP`).
    pub copyright: Option<String>,
}

impl Tags {
    /// True when no field would be written: every text field is `None` or empty, `track` is
    /// `None` and `year` is `None` or outside 0..=9999.
    pub fn is_empty(&self) -> bool {
        [
            &self.title,
            &self.artist,
            &self.album,
            &self.album_artist,
            &self.genre,
            &self.isrc,
            &self.upc,
            &self.comment,
            &self.copyright,
        ]
        .into_iter()
        .all(|s| text(s).is_none())
            && self.track.is_none()
            && year_text(self.year).is_none()
    }
}

/// The value of a text field when it is set and non-empty.
fn text(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// The year as four digits ("0999", "2026"), or `None` when unset or outside 0..=9999
/// (ID3v2.3 `TYER` is always exactly four numeric characters).
fn year_text(year: Option<i32>) -> Option<String> {
    year.filter(|y| (0..=9999).contains(y))
        .map(|y| format!("{y:04}"))
}

/// Encode a value for RIFF INFO: its UTF-8 bytes with embedded NULs replaced by `?` (a NUL
/// would end the string early for every reader), then the terminating NUL, then one more NUL
/// when needed so the length is even.
fn info_value(value: &str) -> Vec<u8> {
    let mut bytes: Vec<u8> = value
        .bytes()
        .map(|b| if b == 0 { b'?' } else { b })
        .collect();
    bytes.push(0);
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    bytes
}

/// Append a chunk (`id`, u32 little-endian size, payload) to `out`. The payload must already
/// have even length. Returns `None` when the payload does not fit a u32 size.
fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], payload: &[u8]) -> Option<()> {
    let size = u32::try_from(payload.len()).ok()?;
    out.extend_from_slice(id);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(payload);
    Some(())
}

/// Whole RIFF `LIST` chunk of type `INFO`: `b"LIST"`, u32 LE size (bytes after the 8-byte
/// header), `b"INFO"`, then the sub-chunks `INAM` title, `IART` artist, `IPRD` album, `ITRK`
/// track, `ICRD` year, `IGNR` genre, `ICMT` comment, `ICOP` copyright, in that order, only those
/// present and non-empty.
///
/// Values are NUL-terminated UTF-8 (embedded NULs become `?`; a NUL byte never occurs inside
/// the UTF-8 encoding of any other character). Every sub-chunk, and so the whole chunk, has
/// even length: an odd value gets a second NUL counted in its size. The ISRC
/// and the UPC/EAN are never written here. Returns `None` when none of these fields is set (or,
/// theoretically, when the chunk would exceed the 4 GiB RIFF size limit).
pub fn info_chunk(tags: &Tags) -> Option<Vec<u8>> {
    let fields = info_fields(tags);
    if fields.is_empty() {
        return None;
    }
    let mut payload = b"INFO".to_vec();
    for (id, value) in fields {
        push_chunk(&mut payload, id, &info_value(&value))?;
    }
    let mut chunk = Vec::with_capacity(payload.len() + 8);
    push_chunk(&mut chunk, b"LIST", &payload)?;
    Some(chunk)
}

/// The INFO sub-chunk ids and values that are set and non-empty, in [`info_chunk`]'s order.
fn info_fields(tags: &Tags) -> Vec<(&'static [u8; 4], String)> {
    let fields: [(&[u8; 4], Option<String>); 8] = [
        (b"INAM", text(&tags.title).map(str::to_owned)),
        (b"IART", text(&tags.artist).map(str::to_owned)),
        (b"IPRD", text(&tags.album).map(str::to_owned)),
        (b"ITRK", tags.track.map(|t| t.to_string())),
        (b"ICRD", year_text(tags.year)),
        (b"IGNR", text(&tags.genre).map(str::to_owned)),
        (b"ICMT", text(&tags.comment).map(str::to_owned)),
        (b"ICOP", text(&tags.copyright).map(str::to_owned)),
    ];
    fields
        .into_iter()
        .filter_map(|(id, value)| Some((id, value?)))
        .collect()
}

/// Windows code page identifier of UTF-8, the value RIFF `CSET` gives for it.
const CODE_PAGE_UTF8: u16 = 65001;

/// Whole RIFF `CSET` chunk (RIFF specification 1991, "CSET (Character Set) Chunk"): `b"CSET"`,
/// size 8, then four u16 LE: code page 65001 (UTF-8), country, language and dialect 0 (not
/// given, which the specification reads as its defaults, USA and US English). It declares the
/// INFO text to be UTF-8; without it the specification assumes ISO 8859-1, and exiftool
/// decodes INFO as Latin-1 (showing "CafÃ©" for "Café"), while ffmpeg, libsndfile and lofty
/// ignore the chunk and read UTF-8 anyway. To go before the `LIST`/`INFO` chunk.
///
/// Returns `None` when every INFO value is ASCII (then every code page reads it the same, and
/// files with ASCII metadata keep their bytes) or when there is no INFO chunk.
pub fn cset_chunk(tags: &Tags) -> Option<Vec<u8>> {
    if info_fields(tags).iter().all(|(_, v)| v.is_ascii()) {
        return None;
    }
    let mut payload = Vec::with_capacity(8);
    for field in [CODE_PAGE_UTF8, 0, 0, 0] {
        payload.extend_from_slice(&field.to_le_bytes());
    }
    let mut chunk = Vec::with_capacity(16);
    push_chunk(&mut chunk, b"CSET", &payload)?;
    Some(chunk)
}

/// The ID3v2.3 tag bytes (header included, no padding) for `tags`, or `None` when empty.
fn id3_tag_bytes(tags: &Tags) -> Option<Vec<u8>> {
    if tags.is_empty() {
        return None;
    }
    let mut tag = id3::Tag::new();
    let text_frames = [
        ("TIT2", text(&tags.title).map(str::to_owned)),
        ("TPE1", text(&tags.artist).map(str::to_owned)),
        ("TALB", text(&tags.album).map(str::to_owned)),
        ("TPE2", text(&tags.album_artist).map(str::to_owned)),
        ("TRCK", tags.track.map(|t| t.to_string())),
        ("TYER", year_text(tags.year)),
        ("TCON", text(&tags.genre).map(str::to_owned)),
    ];
    for (id, value) in text_frames {
        if let Some(value) = value {
            tag.add_frame(Frame::text(id, value));
        }
    }
    if let Some(comment) = text(&tags.comment) {
        tag.add_frame(Comment {
            lang: "eng".to_owned(),
            description: String::new(),
            text: comment.to_owned(),
        });
    }
    if let Some(copyright) = text(&tags.copyright) {
        tag.add_frame(Frame::text("TCOP", copyright));
    }
    if let Some(isrc) = text(&tags.isrc) {
        tag.add_frame(Frame::text("TSRC", isrc));
    }
    if let Some(upc) = text(&tags.upc) {
        tag.add_frame(ExtendedText {
            description: "BARCODE".to_owned(),
            value: upc.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    // Encoding into a Vec cannot fail on I/O; the encoder only rejects invalid frames, and all
    // frames above are valid text/comment/extended-text frames.
    tag.write_to(&mut bytes, Version::Id3v23).ok()?;
    Some(bytes)
}

/// Whole `id3 ` chunk: `b"id3 "`, u32 LE size, then an ID3v2.3 tag encoded by the `id3` crate
/// with the frames `TIT2` title, `TPE1` artist, `TALB` album, `TRCK` track, `TYER` year,
/// `TCON` genre, `COMM` comment (language "eng", empty description), `TCOP` copyright, `TSRC`
/// ISRC and `TXXX` with description "BARCODE" holding the UPC/EAN (only those present and
/// non-empty). Text is full Unicode (the `id3` crate writes UTF-16 with BOM in ID3v2.3).
///
/// When the tag has odd length a NUL is appended and counted in the chunk size (a zero byte
/// after an ID3 tag is valid ID3 padding), so the chunk has even length. Returns `None` when
/// [`Tags::is_empty`] is true.
pub fn id3_chunk(tags: &Tags) -> Option<Vec<u8>> {
    let mut tag = id3_tag_bytes(tags)?;
    if tag.len() % 2 == 1 {
        tag.push(0);
    }
    let mut chunk = Vec::with_capacity(tag.len() + 8);
    push_chunk(&mut chunk, b"id3 ", &tag)?;
    Some(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Tags {
        Tags {
            title: Some("Night Drive".into()),
            artist: Some("The Mixers".into()),
            album: Some("Stems".into()),
            album_artist: None,
            track: Some(7),
            year: Some(2026),
            genre: Some("Electronic".into()),
            isrc: Some("USABC2600003".into()),
            upc: Some("012345678905".into()),
            comment: Some("mastered".into()),
            copyright: Some("2026 The Mixers".into()),
        }
    }

    fn le32(b: &[u8]) -> usize {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    /// Parse a LIST/INFO chunk by the RIFF rules into (key, raw value bytes incl. NULs),
    /// checking sizes on the way.
    fn parse_info(chunk: &[u8]) -> Vec<(String, Vec<u8>)> {
        assert_eq!(&chunk[..4], b"LIST");
        assert_eq!(le32(&chunk[4..8]), chunk.len() - 8, "LIST size");
        assert_eq!(&chunk[8..12], b"INFO");
        let mut out = Vec::new();
        let mut pos = 12;
        while pos < chunk.len() {
            let key = String::from_utf8(chunk[pos..pos + 4].to_vec()).expect("ascii key");
            let size = le32(&chunk[pos + 4..pos + 8]);
            assert_eq!(size % 2, 0, "sub-chunk {key} size {size} must be even");
            out.push((key, chunk[pos + 8..pos + 8 + size].to_vec()));
            pos += 8 + size;
        }
        assert_eq!(pos, chunk.len(), "sub-chunks fill the LIST exactly");
        out
    }

    #[test]
    fn empty_tags_give_no_chunks() {
        let t = Tags::default();
        assert!(t.is_empty());
        assert!(info_chunk(&t).is_none());
        assert!(id3_chunk(&t).is_none());
        let blank = Tags {
            title: Some(String::new()),
            year: Some(12_345),
            ..Tags::default()
        };
        assert!(blank.is_empty());
        assert!(info_chunk(&blank).is_none());
        assert!(id3_chunk(&blank).is_none());
    }

    #[test]
    fn info_has_fields_in_order_nul_terminated_even_and_no_isrc() {
        let chunk = info_chunk(&full()).expect("info");
        assert_eq!(chunk.len() % 2, 0);
        let items = parse_info(&chunk);
        let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "INAM", "IART", "IPRD", "ITRK", "ICRD", "IGNR", "ICMT", "ICOP"
            ]
        );
        for (key, value) in &items {
            assert_eq!(value.last(), Some(&0), "{key} NUL-terminated");
            let text: Vec<u8> = value.iter().copied().take_while(|&b| b != 0).collect();
            assert!(value[text.len()..].iter().all(|&b| b == 0));
            assert!(value.len() - text.len() <= 2, "at most terminator + pad");
        }
        let get = |k: &str| {
            let v = &items.iter().find(|(key, _)| key == k).expect("key").1;
            String::from_utf8(v.iter().copied().take_while(|&b| b != 0).collect()).expect("ascii")
        };
        assert_eq!(get("INAM"), "Night Drive");
        assert_eq!(get("ITRK"), "7");
        assert_eq!(get("ICRD"), "2026");
        // "Night Drive" = 11 chars + NUL = 12 (even); "Stems" = 5 + NUL = 6; "7" = 1 + NUL = 2.
        assert_eq!(items[0].1.len(), 12);
        assert_eq!(items[2].1.len(), 6);
        assert_eq!(items[3].1.len(), 2);
        // "The Mixers" = 10 + NUL = 11 -> padded to 12 inside the counted size.
        assert_eq!(items[1].1, b"The Mixers\0\0");
        assert!(!keys.contains(&"ISRC"));
        // The ISRC and UPC text appears nowhere in INFO.
        let hay = String::from_utf8_lossy(&chunk).into_owned();
        assert!(!hay.contains("USABC2600003"));
        assert!(!hay.contains("012345678905"));
    }

    #[test]
    fn info_is_utf8_nul_terminated_and_padded() {
        let t = Tags {
            title: Some("Café Noché – 夜のドライブ 🚗".into()),
            artist: Some("Zoë & 東京 🎧".into()),
            album: Some("Été 夜".into()),
            comment: Some("a\0b".into()),
            ..Tags::default()
        };
        let chunk = info_chunk(&t).expect("info");
        let items = parse_info(&chunk);
        // UTF-8 bytes spelled out by hand: é = C3 A9, – (U+2013) = E2 80 93, 夜 = E5 A4 9C,
        // の = E3 81 AE, ド = E3 83 89, ラ = E3 83 A9, イ = E3 82 A4, ブ = E3 83 96,
        // 🚗 (U+1F697) = F0 9F 9A 97. 40 bytes + NUL = 41, odd: one more NUL, size 42.
        let title: &[u8] = b"Caf\xC3\xA9 Noch\xC3\xA9 \xE2\x80\x93 \
            \xE5\xA4\x9C\xE3\x81\xAE\xE3\x83\x89\xE3\x83\xA9\xE3\x82\xA4\xE3\x83\x96 \
            \xF0\x9F\x9A\x97\0\0";
        assert_eq!(items[0], ("INAM".to_owned(), title.to_vec()));
        // ë = C3 AB, 東 = E6 9D B1, 京 = E4 BA AC, 🎧 (U+1F3A7) = F0 9F 8E A7: 18 bytes + NUL
        // = 19, padded to 20.
        let artist: &[u8] = b"Zo\xC3\xAB & \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x8E\xA7\0\0";
        assert_eq!(items[1], ("IART".to_owned(), artist.to_vec()));
        // É = C3 89: 9 bytes + NUL = 10, even, no pad.
        let album: &[u8] = b"\xC3\x89t\xC3\xA9 \xE5\xA4\x9C\0";
        assert_eq!(items[2], ("IPRD".to_owned(), album.to_vec()));
        // An embedded NUL would end the string early for every reader: it becomes '?'.
        assert_eq!(items[3], ("ICMT".to_owned(), b"a?b\0".to_vec()));
        // LIST size = "INFO" + four sub-chunks of 8-byte header + (42, 20, 10, 4) bytes.
        assert_eq!(
            chunk.len(),
            8 + 4 + (8 + 42) + (8 + 20) + (8 + 10) + (8 + 4)
        );
        assert_eq!(le32(&chunk[4..8]), chunk.len() - 8);
    }

    #[test]
    fn cset_declares_utf8_only_for_non_ascii_info() {
        // ASCII everywhere, or non-ASCII only where INFO does not go: no CSET.
        assert_eq!(cset_chunk(&full()), None);
        assert_eq!(cset_chunk(&Tags::default()), None);
        // "CSET", size 8, code page 65001 = 0xFDE9 little-endian, country/language/dialect 0.
        let want: &[u8] = b"CSET\x08\0\0\0\xE9\xFD\0\0\0\0\0\0";
        for tags in [
            Tags {
                copyright: Some("2026 Zoë".into()),
                ..full()
            },
            Tags {
                genre: Some("夜".into()),
                ..Tags::default()
            },
        ] {
            assert_eq!(cset_chunk(&tags).as_deref(), Some(want));
        }
    }

    #[test]
    fn isrc_only_goes_to_id3() {
        let t = Tags {
            isrc: Some("USABC2600003".into()),
            upc: Some("4006381333931".into()),
            ..Tags::default()
        };
        assert!(!t.is_empty());
        assert!(info_chunk(&t).is_none());
        let chunk = id3_chunk(&t).expect("id3");
        let tag = id3::Tag::read_from2(std::io::Cursor::new(&chunk[8..])).expect("parse");
        assert_eq!(
            tag.get("TSRC").and_then(|f| f.content().text()),
            Some("USABC2600003")
        );
        let barcode = tag
            .extended_texts()
            .find(|e| e.description == "BARCODE")
            .map(|e| e.value.clone());
        assert_eq!(barcode.as_deref(), Some("4006381333931"));
    }

    #[test]
    fn id3_chunk_is_even_v23_and_parses_back() {
        let mut pads = Vec::new();
        for tags in [
            full(),
            Tags {
                title: Some("x".into()),
                ..Tags::default()
            },
            Tags {
                title: Some("xy".into()),
                artist: Some("z".into()),
                ..Tags::default()
            },
        ] {
            let chunk = id3_chunk(&tags).expect("id3");
            assert_eq!(&chunk[..4], b"id3 ");
            assert_eq!(le32(&chunk[4..8]), chunk.len() - 8);
            assert_eq!(chunk.len() % 2, 0);
            // ID3v2 header: "ID3", major version 3, revision 0.
            assert_eq!(&chunk[8..13], b"ID3\x03\x00");
            // The synchsafe tag size in the header + 10-byte header covers the tag; anything
            // after it is zero padding.
            let s = &chunk[14..18];
            let tag_len = 10
                + ((s[0] as usize) << 21 | (s[1] as usize) << 14 | (s[2] as usize) << 7)
                + s[3] as usize;
            assert!(chunk.len() - 8 - tag_len <= 1);
            pads.push(chunk.len() - 8 - tag_len);
            assert!(chunk[8 + tag_len..].iter().all(|&b| b == 0));
            let tag = id3::Tag::read_from2(std::io::Cursor::new(&chunk[8..])).expect("parse");
            assert_eq!(tag.version(), Version::Id3v23);
            assert_eq!(tag.title(), tags.title.as_deref());
        }
        // Both an odd tag (padded with a counted NUL) and an even one (no pad) were exercised.
        assert!(pads.contains(&0) && pads.contains(&1), "{pads:?}");
    }

    #[test]
    fn id3_frames_hold_every_field() {
        let t = full();
        let chunk = id3_chunk(&t).expect("id3");
        let tag = id3::Tag::read_from2(std::io::Cursor::new(&chunk[8..])).expect("parse");
        let txt = |id: &str| {
            tag.get(id)
                .and_then(|f| f.content().text())
                .map(str::to_owned)
        };
        assert_eq!(txt("TIT2").as_deref(), Some("Night Drive"));
        assert_eq!(txt("TPE1").as_deref(), Some("The Mixers"));
        assert_eq!(txt("TALB").as_deref(), Some("Stems"));
        assert_eq!(txt("TRCK").as_deref(), Some("7"));
        assert_eq!(txt("TYER").as_deref(), Some("2026"));
        assert_eq!(txt("TCON").as_deref(), Some("Electronic"));
        assert_eq!(txt("TCOP").as_deref(), Some("2026 The Mixers"));
        assert_eq!(txt("TSRC").as_deref(), Some("USABC2600003"));
        let c = tag.comments().next().expect("COMM");
        assert_eq!((c.lang.as_str(), c.text.as_str()), ("eng", "mastered"));
        assert_eq!(tag.comments().count(), 1);
        let utf = Tags {
            title: Some("Nacht – Fahrt ü".into()),
            ..Tags::default()
        };
        let chunk = id3_chunk(&utf).expect("id3");
        let tag = id3::Tag::read_from2(std::io::Cursor::new(&chunk[8..])).expect("parse");
        assert_eq!(tag.title(), Some("Nacht – Fahrt ü"));
    }
}
