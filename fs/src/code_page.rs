//! Code page 850, in which FAT short names outside ASCII are stored: the default of mtools
//! and of Western-European DOS and Windows. (fatfs's own converter turns every such byte
//! into U+FFFD.)

use fatfs::OemCpConverter;

/// Bytes 0x80 to 0xFF of code page 850.
const HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '®', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À', '©', '╣', '║', '╗', '╝', '¢', '¥', '┐', //
    '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã', '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤', //
    'ð', 'Ð', 'Ê', 'Ë', 'È', 'ı', 'Í', 'Î', 'Ï', '┘', '┌', '█', '▄', '¦', 'Ì', '▀', //
    'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ', 'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´', //
    '\u{AD}', '±', '‗', '¾', '¶', '§', '÷', '¸', '°', '¨', '·', '¹', '³', '²', '■', '\u{A0}',
];

#[derive(Debug)]
pub(crate) struct Cp850;

/// The one converter; fatfs wants a `'static` reference.
pub(crate) static CP850: Cp850 = Cp850;

impl OemCpConverter for Cp850 {
    fn decode(&self, byte: u8) -> char {
        match byte.checked_sub(0x80) {
            None => char::from(byte),
            Some(high) => HIGH.get(usize::from(high)).copied().unwrap_or('\u{FFFD}'),
        }
    }

    fn encode(&self, c: char) -> Option<u8> {
        if c.is_ascii() {
            return u8::try_from(c).ok();
        }
        let at = HIGH.iter().position(|h| *h == c)?;
        u8::try_from(at).ok()?.checked_add(0x80)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_decodes_to_a_character_that_encodes_back_to_it() {
        for byte in 0..=255u8 {
            assert_eq!(CP850.encode(CP850.decode(byte)), Some(byte), "{byte:#x}");
        }
        assert_eq!(CP850.decode(0x82), 'é');
        assert_eq!(CP850.encode('€'), None);
    }
}
