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
    let ends = match status {
        _ if written != out.len() => false,
        TINFLStatus::Done => true,
        // Full: resumed with no room left (the buffer stays the window), the stream must end
        // there, or it is a bomb.
        TINFLStatus::HasMoreOutput => {
            let rest = input.get(read..).unwrap_or_default();
            matches!(
                decompress(&mut state, rest, out, out.len(), flags),
                (TINFLStatus::Done, _, 0)
            )
        }
        _ => false,
    };
    if ends {
        return Ok(());
    }
    Err(Error::Corrupt(format!(
        "a compressed block does not inflate to exactly its {} bytes ({written} bytes, {status:?})",
        out.len()
    )))
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::inflate;

    #[test]
    fn a_stream_inflates_to_exactly_its_buffer_or_is_refused() {
        let data = vec![7u8; 2000];
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
        let raw = miniz_oxide::deflate::compress_to_vec(&data, 6);
        assert_eq!(inflate(&zlib, true, &mut vec![0; 2000]), Ok(()));
        assert_eq!(inflate(&raw, false, &mut vec![0; 2000]), Ok(()));
        // A bomb: more than the buffer holds.
        assert!(inflate(&zlib, true, &mut vec![0; 1000]).is_err());
        assert!(inflate(&raw, false, &mut vec![0; 1999]).is_err());
        // Short: the stream ends before the buffer does, or is cut.
        assert!(inflate(&zlib, true, &mut vec![0; 2001]).is_err());
        assert!(inflate(&zlib[..zlib.len() / 2], true, &mut vec![0; 2000]).is_err());
    }
}
