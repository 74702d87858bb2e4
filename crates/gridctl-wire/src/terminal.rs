//! Text from a console on its way to an operator's terminal: the C1 control characters
//! (U+0080–U+009F) are dropped. In UTF-8 they are two printable-looking bytes
//! (`\xc2\x9b` is CSI, `\xc2\x9d` OSC), so a filter of C0 bytes and ESC sequences lets them
//! through, and a terminal that honours them lets a console line clear the screen or
//! write the clipboard (OSC 52). Every path that shows console text uses this one
//! function: the holder's finished lines (console log, scrollback, `send`, `status`
//! detail) and the CLI's own output of them.

use std::borrow::Cow;

/// `bytes` without any C1 control character. Other bytes, invalid UTF-8 included, are
/// kept as they are.
pub fn without_c1(bytes: &[u8]) -> Cow<'_, [u8]> {
    let is_c1 =
        |i: usize| bytes[i] == 0xc2 && bytes.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b));
    if !(0..bytes.len()).any(is_c1) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_c1(i) {
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// [`without_c1`] for text.
pub fn text_without_c1(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_c1_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| !is_c1_char(*c)).collect())
}

fn is_c1_char(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_controls_are_dropped_and_nothing_else() {
        let osc52 = b"a\xc2\x9d52;c;aGVsbG8=\xc2\x9cb";
        assert_eq!(&*without_c1(osc52), b"a52;c;aGVsbG8=b");
        assert_eq!(&*without_c1(b"\xc2\x9b2J"), b"2J");
        // Other two-byte characters stay: é is \xc3\xa9, U+00A0 is \xc2\xa0.
        let kept = "é\u{a0}ü – ok".as_bytes();
        assert!(matches!(without_c1(kept), Cow::Borrowed(_)));
        // A lone 0xc2 at the end (a split sequence) is not a C1 character yet.
        assert_eq!(&*without_c1(b"x\xc2"), b"x\xc2");
        assert_eq!(text_without_c1("a\u{9b}2Jb\u{85}"), "a2Jb");
    }

    #[test]
    fn every_c1_character_in_any_position_is_dropped() {
        for c in 0x80u32..=0x9f {
            let c = char::from_u32(c).unwrap_or(' ');
            for text in [
                format!("{c}"),
                format!("x{c}"),
                format!("{c}y"),
                format!("x{c}y{c}"),
            ] {
                let out = without_c1(text.as_bytes()).into_owned();
                assert!(
                    !String::from_utf8_lossy(&out).chars().any(is_c1_char),
                    "{text:?}"
                );
                assert_eq!(
                    text_without_c1(&text).chars().filter(|ch| *ch == c).count(),
                    0
                );
            }
        }
    }
}
