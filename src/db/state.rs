//! A state machine's states are an enum stored as text (the migrations spell each set as a
//! CHECK): [`text_enum!`] writes the conversions once, for every such enum.

/// Declares an enum whose variants are stored as the given texts: `as_str`, `ALL`,
/// `TryFrom<String>` (for `#[sqlx(try_from = "String")]` row fields), and serde (and the
/// OpenAPI document) as the same texts, which must be each variant's name in snake_case
/// (`state_texts_are_their_serde_names` checks every state of the crate).
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

#[cfg(test)]
mod tests {
    fn same<T: serde::Serialize + Copy>(all: &[T], text: fn(T) -> &'static str) {
        for &state in all {
            let json = serde_json::to_string(&state).expect("serialises");
            assert_eq!(json, format!("\"{}\"", text(state)));
        }
    }

    #[test]
    fn state_texts_are_their_serde_names() {
        use crate::settlement::{BatchStatus, LineStatus};
        use crate::vouchers::{ChequeStatus, PassStatus};
        same(PassStatus::ALL, PassStatus::as_str);
        same(ChequeStatus::ALL, ChequeStatus::as_str);
        same(BatchStatus::ALL, BatchStatus::as_str);
        same(LineStatus::ALL, LineStatus::as_str);
        same(
            crate::programs::ProgramStatus::ALL,
            crate::programs::ProgramStatus::as_str,
        );
        same(
            crate::qualification::Status::ALL,
            crate::qualification::Status::as_str,
        );
        same(
            crate::mail::OutboxStatus::ALL,
            crate::mail::OutboxStatus::as_str,
        );
        same(crate::users::Role::ALL, crate::users::Role::as_str);
    }
}
