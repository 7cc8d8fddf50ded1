//! Enums whose every variant is a word: the labels that report, JSON, metrics, alerts
//! and the audit trail share. `words!` writes the variant list once and derives the
//! rest from it, so a new variant cannot miss its word. [`count`] writes a count of
//! something in the texts.

/// `1 change`, `3 changes`: `n` and the noun, with an `s` when `n` is not one.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Defines a fieldless enum from `Variant => "word"` lines, with `ALL` (every variant,
/// in order), `as_str` (the word), `from_word`, `Display` (the word, padded like a
/// `str`), `Serialize` and `Deserialize` (the word; the audit trail is read back).
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }

            /// The variant whose word is `word`.
            #[allow(dead_code)]
            pub fn from_word(word: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.as_str() == word)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let word = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::from_word(&word).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::unknown_variant(&word, &[$($word),+])
                })
            }
        }
    };
}

pub(crate) use words;

#[cfg(test)]
mod tests {
    words! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Colour {
            /// A doc comment on a variant is kept.
            Red => "red",
            DarkBlue => "dark_blue",
        }
    }

    #[test]
    fn every_variant_has_its_word_everywhere() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
        assert_eq!(Colour::DarkBlue.as_str(), "dark_blue");
        assert_eq!(format!("[{:>5}]", Colour::Red), "[  red]");
        assert_eq!(
            serde_json::to_string(&Colour::ALL).unwrap(),
            r#"["red","dark_blue"]"#
        );
        assert_eq!(Colour::from_word("dark_blue"), Some(Colour::DarkBlue));
        let back: Vec<Colour> = serde_json::from_str(r#"["red","dark_blue"]"#).unwrap();
        assert_eq!(back, Colour::ALL);
        let err = serde_json::from_str::<Colour>(r#""green""#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `green`"), "{err}");
    }
}
