//! The grammar of the flag values the rule reads (`docs/assignment.md`, "Flag values").
//! Anything else is refused, and a refused value turns the new path off for every unit.

use std::fmt;

/// Why a flag value is refused: the value (shortened if long) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not {}", self.value, self.expected)
    }
}

impl std::error::Error for Refused {}

const PERCENTAGE: &str =
    "a percentage: decimal digits with an optional fraction (e.g. 5, 12.5), from 0 to 100";
const SEED: &str = "a seed: decimal digits, from 0 to 18446744073709551615";

fn refused(text: &str, expected: &'static str) -> Refused {
    const MAX: usize = 40;
    let value = match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    };
    Refused { value, expected }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `percentage = DIGIT+ [ "." DIGIT+ ]` (ASCII digits only; no sign, exponent, spaces or
/// `_`), whose exact decimal value is in [0, 100]. The result is the binary64 nearest that
/// value (round half to even), as every correctly rounded parser gives it.
pub fn parse_percentage(text: &str) -> Result<f64, Refused> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(refused(text, PERCENTAGE));
    }
    let int = int.trim_start_matches('0');
    let frac_is_zero = frac.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    let over =
        int.len() > 3 || (int.len() == 3 && (int > "100" || (int == "100" && !frac_is_zero)));
    if over {
        return Err(refused(text, PERCENTAGE));
    }
    text.parse::<f64>().map_err(|_| refused(text, PERCENTAGE))
}

/// `seed = DIGIT+` (ASCII digits only; no sign), whose value fits an unsigned 64-bit integer.
pub fn parse_seed(text: &str) -> Result<u64, Refused> {
    if !digits(text) {
        return Err(refused(text, SEED));
    }
    text.parse::<u64>().map_err(|_| refused(text, SEED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        for (text, value) in [
            ("0", 0.0),
            ("100", 100.0),
            ("100.000", 100.0),
            ("5", 5.0),
            ("12.5", 12.5),
            ("0.1", 0.1),
            ("007", 7.0),
            ("99.99999999999999999999", 100.0),
        ] {
            assert_eq!(parse_percentage(text), Ok(value), "{text}");
        }
        for text in [
            "",
            "1e1",
            "+10",
            "-0",
            "150",
            "100.0000001",
            "101",
            "1000",
            " 5",
            "5 ",
            ".5",
            "5.",
            "1_0",
            "inf",
            "NaN",
            "0x10",
            "٥",
            "１０",
            "10%",
            "5,5",
        ] {
            let e = parse_percentage(text).unwrap_err();
            assert!(e.to_string().contains("is not a percentage"), "{text}: {e}");
        }
    }

    #[test]
    fn seeds() {
        assert_eq!(parse_seed("0"), Ok(0));
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed("18446744073709551615"), Ok(u64::MAX));
        for text in [
            "",
            "+42",
            "-1",
            "18446744073709551616",
            "4.2e1",
            "42.0",
            " 42",
            "0x2a",
            "٤٢",
        ] {
            assert!(parse_seed(text).is_err(), "{text}");
        }
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let e = parse_seed(&"9".repeat(500)).unwrap_err();
        assert!(e.to_string().len() < 150, "{e}");
    }
}
