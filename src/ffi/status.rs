//! The one status enum every fallible call returns, generated with its text
//! and its mapping from the core's `ErrorKind` from the table in
//! `status_table.rs`, and the failure type that carries a status and its
//! message to the boundary.

use std::ffi::c_int;

use crate::error::{Error, ErrorKind};

macro_rules! statuses {
    (
        $(#[doc = $enum_doc:literal])*
        enum asset_cache_status {
            $( $(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal, [$($kind:ident)?]; )*
        }
    ) => {
        $(#[doc = $enum_doc])*
        #[allow(non_camel_case_types)]
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum asset_cache_status {
            $( $(#[doc = $doc])* $name = $value, )*
        }

        impl asset_cache_status {
            /// Every status, in the table's order.
            pub const ALL: &'static [asset_cache_status] = &[$(asset_cache_status::$name),*];

            /// The status with this number, if there is one.
            pub fn from_code(code: c_int) -> Option<Self> {
                match code {
                    $($value => Some(asset_cache_status::$name),)*
                    _ => None,
                }
            }

            /// The C name, e.g. "ASSET_CACHE_NOT_FOUND".
            pub fn name(self) -> &'static str {
                match self {
                    $(asset_cache_status::$name => stringify!($name),)*
                }
            }

            /// The text of `asset_cache_status_str`, NUL-terminated.
            pub(crate) fn text_nul(self) -> &'static str {
                match self {
                    $(asset_cache_status::$name => concat!($text, "\0"),)*
                }
            }
        }

        impl From<ErrorKind> for asset_cache_status {
            fn from(kind: ErrorKind) -> Self {
                // Exhaustive: a new ErrorKind without a row does not compile.
                match kind {
                    $($(ErrorKind::$kind => asset_cache_status::$name,)?)*
                }
            }
        }
    };
}
include!("status_table.rs");

impl asset_cache_status {
    /// The status's text, without the NUL, e.g. "not found".
    pub fn text(self) -> &'static str {
        let t = self.text_nul();
        &t[..t.len() - 1]
    }
}

/// `asset_cache_status_str`'s text for any integer, NUL-terminated.
pub(crate) fn text_of_code(code: c_int) -> &'static str {
    asset_cache_status::from_code(code).map_or("unknown status\0", asset_cache_status::text_nul)
}

/// A failure as it crosses the boundary: a status and its message.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: asset_cache_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: asset_cache_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(e.kind().into(), e.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_distinct_and_texts_nul_terminated_once() {
        let mut seen = std::collections::HashSet::new();
        for &s in asset_cache_status::ALL {
            assert!(seen.insert(s as c_int), "{} reuses a number", s.name());
            assert_eq!(asset_cache_status::from_code(s as c_int), Some(s));
            let t = s.text_nul();
            assert!(t.ends_with('\0') && !s.text().contains('\0'));
            assert!(!s.text().is_empty());
        }
        assert_eq!(text_of_code(-1), "unknown status\0");
        assert_eq!(text_of_code(c_int::MAX), "unknown status\0");
    }
}
