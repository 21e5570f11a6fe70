//! Decompression into a buffer of fixed size: a compressed cluster or grain must produce
//! exactly its size, no more (a bomb) and no less (a short stream).

use alloc::format;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use crate::Error;

/// Inflates `input` (raw deflate, or zlib with `zlib_header`) into all of `out`: an error if
/// the stream is damaged, ends before filling `out`, or has more to give once it is full.
pub(crate) fn inflate(input: &[u8], zlib_header: bool, out: &mut [u8]) -> Result<(), Error> {
    let mut state = alloc::boxed::Box::<DecompressorOxide>::default();
    let mut flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    if zlib_header {
        flags |= inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER;
    }
    let (status, read, written) = decompress(&mut state, input, out, 0, flags);
    let full = written == out.len();
    match status {
        TINFLStatus::Done if full => Ok(()),
        // Full: resumed with no room left (the buffer stays the window), the stream must end
        // there, or it is a bomb.
        TINFLStatus::HasMoreOutput => {
            let rest = input.get(read..).unwrap_or_default();
            match decompress(&mut state, rest, out, out.len(), flags) {
                (TINFLStatus::Done, _, 0) => Ok(()),
                _ => Err(Error::Corrupt(format!(
                    "a compressed block inflates to more than its {} bytes",
                    out.len()
                ))),
            }
        }
        // qcow2 pads a compressed cluster to whole sectors, and qemu clamps the last one to
        // the file's end, so its stream may stop early in the input; what matters is that it
        // filled the cluster (qemu accepts the same).
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress if full => Ok(()),
        status => Err(Error::Corrupt(format!(
            "a compressed block inflates to {written} of its {} bytes ({status:?})",
            out.len()
        ))),
    }
}

/// The largest zstd window accepted: the decoder reserves the window up front, so a
/// hostile frame header could otherwise ask for 100 MiB. qemu's frames are one cluster
/// (2 MiB at most) with the content size as the window.
const MAX_ZSTD_WINDOW: u64 = 8 << 20;

/// Decodes the zstd frame at the start of `input` (padding may follow it) into all of
/// `out`: an error if the frame is damaged, produces fewer bytes than `out` holds, or more.
pub(crate) fn zstd(input: &[u8], out: &mut [u8]) -> Result<(), Error> {
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
    use ruzstd::io::Read;

    let window = zstd_window(input)?;
    if window > MAX_ZSTD_WINDOW {
        return Err(Error::Corrupt(format!(
            "a zstd frame asks for a {window}-byte window (at most {MAX_ZSTD_WINDOW})"
        )));
    }
    let damaged = |what: &str, error: &dyn core::fmt::Display| {
        Error::Corrupt(format!("a zstd frame is damaged ({what}: {error})"))
    };
    let mut decoder = FrameDecoder::new();
    let mut source = input;
    decoder
        .init(&mut source)
        .map_err(|error| damaged("frame header", &error))?;
    let mut written = 0usize;
    loop {
        // One block at a time (128 KiB at most), drained into `out` as it comes, so a bomb
        // is caught once it overflows `out` by a window's worth, not after it is all out.
        let finished = decoder
            .decode_blocks(&mut source, BlockDecodingStrategy::UptoBlocks(1))
            .map_err(|error| damaged("block", &error))?;
        let rest = out.get_mut(written..).unwrap_or_default();
        let got = decoder
            .read(rest)
            .map_err(|error| damaged("output", &error))?;
        written = written.saturating_add(got);
        if written == out.len() && decoder.can_collect() > 0 {
            return Err(Error::Corrupt(format!(
                "a zstd frame decodes to more than its {} bytes",
                out.len()
            )));
        }
        if finished {
            break;
        }
    }
    if written != out.len() || decoder.can_collect() > 0 {
        return Err(Error::Corrupt(format!(
            "a zstd frame decodes to {} bytes, not {}",
            written.saturating_add(decoder.can_collect()),
            out.len()
        )));
    }
    Ok(())
}

/// The window size a zstd frame header declares (RFC 8878, 3.1.1.1), read before the
/// decoder reserves it.
fn zstd_window(input: &[u8]) -> Result<u64, Error> {
    let short = || Error::Corrupt("a zstd frame header is cut short".into());
    if input.get(..4) != Some(&[0x28, 0xb5, 0x2f, 0xfd][..]) {
        return Err(Error::Corrupt(
            "a compressed cluster has no zstd frame magic".into(),
        ));
    }
    let descriptor = *input.get(4).ok_or_else(short)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let byte = *input.get(5).ok_or_else(short)?;
        let base = 1u64 << (10u32.saturating_add(u32::from(byte >> 3)));
        return Ok(base.saturating_add((base / 8).saturating_mul(u64::from(byte & 7))));
    }
    // A single segment: the window is the frame content size, after the dictionary id.
    let dictionary = [0usize, 1, 2, 4]
        .get(usize::from(descriptor & 3))
        .copied()
        .unwrap_or(0);
    let (size_len, bias) = match descriptor >> 6 {
        0 => (1usize, 0u64),
        1 => (2, 256),
        2 => (4, 0),
        _ => (8, 0),
    };
    let start = 5usize.saturating_add(dictionary);
    let field = input
        .get(start..start.saturating_add(size_len))
        .ok_or_else(short)?;
    let mut word = [0u8; 8];
    word.get_mut(..size_len)
        .ok_or_else(short)?
        .copy_from_slice(field);
    Ok(u64::from_le_bytes(word).saturating_add(bias))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw deflate stream of one stored block holding "ab".
    const DEFLATE_AB: [u8; 7] = [0x01, 0x02, 0x00, 0xfd, 0xff, b'a', b'b'];

    /// A zstd frame (single segment, content size 2) of one raw block holding "ab".
    const ZSTD_AB: [u8; 11] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x02, 0x11, 0x00, 0x00, b'a', b'b',
    ];

    #[test]
    fn inflate_fills_exactly() {
        let mut out = [0u8; 2];
        inflate(&DEFLATE_AB, false, &mut out).unwrap();
        assert_eq!(&out, b"ab");
        // Padding after the stream (qcow2 pads to sectors) is not an error.
        let mut padded = DEFLATE_AB.to_vec();
        padded.extend_from_slice(&[0; 9]);
        inflate(&padded, false, &mut out).unwrap();
    }

    #[test]
    fn a_zlib_stream_fills_exactly_its_grain_or_is_refused() {
        let data = [7u8; 2000];
        let stream = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
        let mut grain = [0u8; 2000];
        inflate(&stream, true, &mut grain).unwrap();
        assert_eq!(grain, data);
        assert!(inflate(&stream, true, &mut [0u8; 1000]).is_err(), "a bomb");
        assert!(inflate(&stream, true, &mut [0u8; 2001]).is_err(), "short");
        assert!(
            inflate(&stream, false, &mut grain).is_err(),
            "not raw deflate"
        );
    }

    #[test]
    fn inflate_refuses_a_bomb_and_a_short_stream() {
        let mut small = [0u8; 1];
        let error = inflate(&DEFLATE_AB, false, &mut small).unwrap_err();
        assert!(matches!(&error, Error::Corrupt(why) if why.contains("more than its 1 bytes")));
        let mut large = [0u8; 3];
        let error = inflate(&DEFLATE_AB, false, &mut large).unwrap_err();
        assert!(matches!(&error, Error::Corrupt(why) if why.contains("2 of its 3 bytes")));
    }

    #[test]
    fn zstd_fills_exactly() {
        let mut out = [0u8; 2];
        zstd(&ZSTD_AB, &mut out).unwrap();
        assert_eq!(&out, b"ab");
        let mut padded = ZSTD_AB.to_vec();
        padded.extend_from_slice(&[0; 5]);
        zstd(&padded, &mut out).unwrap();
    }

    #[test]
    fn zstd_refuses_a_bomb_a_short_frame_and_a_huge_window() {
        let mut small = [0u8; 1];
        let error = zstd(&ZSTD_AB, &mut small).unwrap_err();
        assert!(matches!(&error, Error::Corrupt(why) if why.contains("more than its 1 bytes")));
        let mut large = [0u8; 3];
        let error = zstd(&ZSTD_AB, &mut large).unwrap_err();
        assert!(matches!(&error, Error::Corrupt(why) if why.contains("decodes to 2 bytes, not 3")));
        let mut cut = [0u8; 2];
        let error = zstd(&ZSTD_AB[..10], &mut cut).unwrap_err();
        assert!(matches!(&error, Error::Corrupt(why) if why.contains("damaged")));
        // Not a single segment: window descriptor 0xf8 is 2^41 bytes, refused before the
        // decoder would reserve it.
        let huge = [
            0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0x11, 0x00, 0x00, b'a', b'b',
        ];
        let error = zstd(&huge, &mut cut).unwrap_err();
        assert!(
            matches!(&error, Error::Corrupt(why) if why.contains("window")),
            "{error:?}"
        );
        let error = zstd(b"not zstd", &mut cut).unwrap_err();
        assert!(matches!(&error, Error::Corrupt(why) if why.contains("magic")));
    }
}
