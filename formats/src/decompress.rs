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
    let (status, _read, written) = decompress(&mut state, input, out, 0, flags);
    match status {
        TINFLStatus::Done | TINFLStatus::HasMoreOutput if written == out.len() => Ok(()),
        // qcow2 pads a compressed cluster to whole sectors, so its stream may end early in
        // the input; what matters is that it filled the cluster.
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress
            if written == out.len() =>
        {
            Ok(())
        }
        status => Err(Error::Corrupt(format!(
            "a compressed block inflates to {written} of its {} bytes ({status:?})",
            out.len()
        ))),
    }
}
