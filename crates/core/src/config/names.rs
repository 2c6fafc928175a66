//! Field names: which ones a YAML shape has (read from its serde derive, so the list cannot
//! drift from the struct) and the nearest one to a misspelt key.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The field names of a struct that derives `Deserialize` (empty for anything else).
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// A deserializer that records the field list a struct asks for, then gives up.
struct Probe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The candidate closest to `word`, if it is close enough to be what was meant: at most
/// one edit for short names, two from five letters, three from nine (an edit being an
/// insertion, deletion, substitution or swap of neighbours; letter case is ignored).
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = |len: usize| match len {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| (distance(&word, c), *c))
        .filter(|(d, c)| *d <= limit(c.chars().count().max(word.chars().count())))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus transpositions of adjacent letters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        percentage: f64,
        duration: String,
        #[serde(default)]
        flags: Vec<String>,
    }

    #[test]
    fn reads_the_fields_of_a_derive() {
        assert_eq!(
            fields_of::<Shape>(),
            &["percentage", "duration", "flags"][..]
        );
        assert!(fields_of::<String>().is_empty());
    }

    #[test]
    fn distances() {
        assert_eq!(distance("canery", "canary"), 1);
        assert_eq!(distance("databse", "database"), 1);
        assert_eq!(distance("durration", "duration"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
    }

    #[test]
    fn suggests_only_what_is_close() {
        let kinds = ["shadow", "ab_test", "canary", "full"];
        assert_eq!(nearest("canery", &kinds), Some("canary"));
        assert_eq!(nearest("Canary", &kinds), Some("canary"));
        assert_eq!(nearest("abtest", &kinds), Some("ab_test"));
        assert_eq!(nearest("shadw", &kinds), Some("shadow"));
        assert_eq!(nearest("blue_green", &kinds), None);
        assert_eq!(nearest("x", &kinds), None);
        let fields = ["name", "flag_prefix", "seed", "stages", "on_rollback"];
        assert_eq!(nearest("flag_prefx", &fields), Some("flag_prefix"));
        assert_eq!(nearest("prefix", &fields), None);
        assert_eq!(nearest("seeds", &fields), Some("seed"));
    }
}
