//! A state machine's states are an enum stored as text (the migrations spell each set as a
//! CHECK): [`text_enum!`] writes the conversions once, for every such enum.

/// Declares an enum whose variants are stored as the given texts: `as_str`, `ALL`,
/// `TryFrom<String>` (for `#[sqlx(try_from = "String")]` row fields), and serde (and the
/// OpenAPI document) as the same texts, which must be each variant's name in snake_case
/// (`state_texts_are_their_serde_names`, in `lib.rs`, checks every state of the crate).
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// As stored and as the API writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The state a text names, if any.
            pub fn from_text(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|s| s.as_str() == text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::Error;
            fn try_from(stored: String) -> $crate::error::Result<$name> {
                $name::from_text(&stored).ok_or_else(|| {
                    $crate::error::Error::Internal(anyhow::anyhow!(
                        concat!("unknown ", stringify!($name), " {}"),
                        stored
                    ))
                })
            }
        }
    };
}
