//! Output not yet fed to the terminal model, and how to feed it cheaply.
//!
//! Running every byte of a log flood through the vt100 model costs more than reading
//! the PTY itself (bench/RESULTS.md: 47 % of the holder's CPU). Most of a flood scrolls
//! off the screen before anybody looks, so output is held here and fed in one go when
//! the screen is needed (a query to answer, an attach, a readiness check) or when the
//! backlog is large. Feeding keeps only the last screenful of lines when everything
//! before it is plain text and colour codes: the resulting screen, cursor and colours
//! are exactly what feeding every byte would give.

/// Feed the model once this much output is pending.
pub const MAX_PENDING: usize = 64 * 1024;

/// Whether the newest output may hold something the terminal must answer (`ESC[5n`,
/// `ESC[6n`), or the start of it: then the backlog is fed at once, so the answer
/// reflects the right cursor. `seen` ends with the last bytes received before
/// `bytes`, so a query split across reads is still spotted.
pub fn may_query(seen: &[u8], bytes: &[u8]) -> bool {
    // A sequence that began in `seen` and ends in `bytes`: check the seam on a small copy.
    if seen.contains(&0x1b) {
        let mut seam = seen.to_vec();
        seam.extend_from_slice(&bytes[..bytes.len().min(SEEN_KEEP)]);
        if query_in(&seam, seen.len()) {
            return true;
        }
    }
    query_in(bytes, 0)
}

/// Whether `buf` holds a status query ending at or after `from`, or ends inside a sequence.
fn query_in(buf: &[u8], from: usize) -> bool {
    let mut i = 0;
    while let Some(off) = memchr::memchr(0x1b, &buf[i..]) {
        let mut j = i + off + 1;
        if j == buf.len() {
            return true; // a sequence has only begun
        }
        if buf[j] != b'[' {
            i = j;
            continue;
        }
        j += 1;
        while j < buf.len() && (buf[j].is_ascii_digit() || buf[j] == b';' || buf[j] == b'?') {
            j += 1;
        }
        match buf.get(j) {
            None => return true,
            // Only a query that ends in the new bytes counts: older ones were handled.
            Some(b'n') if j >= from => return true,
            _ => i = j,
        }
    }
    false
}

/// How many of the latest bytes to remember for [`may_query`].
pub const SEEN_KEEP: usize = 16;

/// What to feed the model instead of `pending`, to reach the same screen with a
/// screen of `rows` rows; `None` when `pending` must be fed as it is. `clean_start`
/// says the model is in the ground state at a line start (the last fed byte was `\n`).
pub fn compact(pending: &[u8], rows: u16, clean_start: bool) -> Option<Vec<u8>> {
    if !clean_start {
        return None;
    }
    // The tail starts after the newline that leaves exactly `rows` newlines after it:
    // feeding that many line feeds scrolls everything earlier off the screen.
    let split = memchr::memrchr_iter(b'\n', pending)
        .nth(usize::from(rows))
        .map(|nl| nl + 1);
    let split = split?;
    let (prefix, tail) = pending.split_at(split);
    let sgr = sgr_state(prefix)?;
    let mut out = Vec::with_capacity(sgr.len() + 1 + tail.len());
    out.extend_from_slice(&sgr);
    out.push(b'\r');
    out.extend_from_slice(tail);
    Some(out)
}

/// The colour codes in `prefix` that still apply at its end (those after the last
/// reset), or `None` if `prefix` holds anything but text, line controls and colours.
fn sgr_state(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut kept: Vec<u8> = Vec::new();
    let mut i = 0;
    loop {
        // Text up to the next escape: only line controls may occur in it.
        let esc = memchr::memchr(0x1b, &prefix[i..]).map_or(prefix.len(), |off| i + off);
        if has_state_control(&prefix[i..esc]) {
            return None; // charset shifts and the like change state
        }
        if esc == prefix.len() {
            return Some(kept);
        }
        // Only CSI ... m (SGR) is allowed.
        if prefix.get(esc + 1) != Some(&b'[') {
            return None;
        }
        let mut j = esc + 2;
        while j < prefix.len()
            && (prefix[j].is_ascii_digit() || prefix[j] == b';' || prefix[j] == b':')
        {
            j += 1;
        }
        if prefix.get(j) != Some(&b'm') {
            return None;
        }
        let params = &prefix[esc + 2..j];
        if params.is_empty() || params == b"0" {
            kept.clear();
        } else {
            kept.extend_from_slice(&prefix[esc..=j]);
        }
        i = j + 1;
    }
}

/// Whether `text` holds a C0 control other than CR, LF, tab, backspace and bell.
/// Every byte of a flood's skipped head passes here: each 32-byte block is tested
/// without branches, which the compiler turns into vector code.
fn has_state_control(text: &[u8]) -> bool {
    text.chunks(32).any(|block| {
        block.iter().fold(false, |found, &b| {
            found
                | ((b < 0x20)
                    & (b != b'\r')
                    & (b != b'\n')
                    & (b != b'\t')
                    & (b != 0x08)
                    & (b != 0x07))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(rows: u16, bytes: &[u8]) -> (String, (u16, u16), Vec<u8>) {
        let mut p = vt100::Parser::new(rows, 40, 0);
        p.process(bytes);
        let s = p.screen();
        (s.contents(), s.cursor_position(), s.contents_formatted())
    }

    #[test]
    fn compacted_feed_gives_the_same_screen() {
        let mut flood = Vec::new();
        for i in 0..200 {
            flood.extend_from_slice(
                format!("\x1b[32m12:00:00\x1b[0m - line {i} of the log\r\n").as_bytes(),
            );
        }
        flood.extend_from_slice(b"\x1b[1;31mstill red R.O.B.U.S.T.# ");
        let short = compact(&flood, 10, true).expect("plain text and colours compact");
        assert!(short.len() < flood.len() / 10);
        assert_eq!(screen(10, &short), screen(10, &flood));
    }

    #[test]
    fn colours_that_span_the_cut_survive() {
        let mut flood = b"\x1b[1m\x1b[34m".to_vec();
        for i in 0..50 {
            flood.extend_from_slice(format!("blue bold {i}\r\n").as_bytes());
        }
        let short = compact(&flood, 5, true).unwrap();
        assert_eq!(screen(5, &short), screen(5, &flood));
    }

    #[test]
    fn other_sequences_or_short_output_are_fed_as_they_are() {
        let mut with_cursor_move = b"\x1b[2J".to_vec();
        with_cursor_move.extend(std::iter::repeat_n(b"x\r\n".as_slice(), 50).flatten());
        assert!(compact(&with_cursor_move, 5, true).is_none());
        assert!(compact(b"a\r\nb\r\n", 5, true).is_none());
        let many: Vec<u8> = std::iter::repeat_n(b"x\r\n".as_slice(), 50)
            .flatten()
            .copied()
            .collect();
        assert!(compact(&many, 5, false).is_none());
    }

    #[test]
    fn only_line_controls_and_colours_may_be_skipped() {
        assert_eq!(
            sgr_state(b"a\r\n\tb\x08\x07\x1b[31mred\x1b[0m\x1b[1;34m"),
            Some(b"\x1b[1;34m".to_vec())
        );
        let long = [b"x".repeat(100), vec![0x0e], b"y".repeat(100)].concat();
        assert_eq!(sgr_state(&long), None);
        assert_eq!(sgr_state(b"ab\x1b[2Jcd"), None);
        assert_eq!(sgr_state(b"ab\x1b(B"), None);
        assert_eq!(sgr_state(b"ends in \x1b"), None);
        assert_eq!(sgr_state(b""), Some(Vec::new()));
    }

    #[test]
    fn queries_are_spotted() {
        assert!(may_query(b"", b"abc\x1b[6n"));
        assert!(may_query(b"", b"abc\x1b[5n"));
        assert!(may_query(b"", b"split \x1b"));
        assert!(may_query(b"", b"split \x1b[6"));
        assert!(may_query(b"ab\x1b[6", b"n"));
        assert!(!may_query(b"", b"plain\r\n\x1b[32mgreen\x1b[0m and no"));
        assert!(!may_query(b"\x1b[6n", b"later"));
    }
}
